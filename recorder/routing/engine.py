"""The routing engine: a record in, the (trail, account, region) destinations out.

Compiled once per trail-set change and never changed after: the router swaps the
reference to a new engine, so a batch sees one trail set throughout.

Trails are filed by *scope*: an account (its own trails) or an organization (the
organization trails of its accounts). An event of account A is matched against A's
scope and A's organization's scope only, so its cost does not grow with the trails of
other accounts; within a scope the :class:`SelectorIndex` does the matching. Then the
trail must cover the event's region: a regional event reaches multi-region trails
and single-region trails of its region; a global-service event reaches trails that
include global service events, once, in the partition's global region (us-east-1 in
aws); a trail never receives an event of another partition. Last, the trail must have been
logging at the event's time (:mod:`recorder.trails.logging_state`): a stopped or
deleted trail still receives the events from before its stop, and none after.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from recorder.aws.arn import arn_or_none, partition_for
from recorder.aws.times import epoch_second
from recorder.events.regions import delivery_region, is_global_service_event
from recorder.routing.owners import BucketOwners, foreign_owners
from recorder.selectors import Event, RecordError, SelectorIndex, event_from_record
from recorder.trails import Trail
from recorder.trails.destination import Destination, kind_of_category
from recorder.trails.logging_state import LoggingPeriod, logging_at

#: Bounds on the engine's memos (Destination values; eventTime texts' epoch seconds;
#: the placements of an event's selector view).
_DESTINATIONS_LIMIT = 65_536
_SECONDS_LIMIT = 4_096
_PLACED_LIMIT = 16_384

#: Where an event may go before the logging periods are asked: each destination (in
#: order, once) with the placements that lead there.
_Placed = tuple[tuple[Destination, tuple["_Placement", ...]], ...]


@dataclass(frozen=True, slots=True)
class _Placement:
    """What fan-out needs of a trail once its selectors matched."""

    trail_arn: str
    partition: str
    home_region: str
    multi_region: bool
    global_events: bool
    org_id: str | None
    periods: tuple[LoggingPeriod, ...]
    is_logging: bool

    def covers(self, region: str, is_global: bool, partition: str) -> bool:
        if partition != self.partition:
            return False
        if is_global:
            return self.global_events
        return self.multi_region or self.home_region == region

    def logging_at(self, second: int, produced_ms: int | None) -> bool:
        return logging_at(self.periods, self.is_logging, second, produced_ms)


@dataclass(frozen=True, slots=True)
class _Scope:
    index: SelectorIndex
    placements: tuple[_Placement, ...]


def organization_of(trail: Trail, organizations: Mapping[str, str]) -> str | None:
    """The organization an organization trail logs for: its owner's. None for other
    trails, and for an organization trail whose owner is in no known organization
    (it then logs its own account, like any trail)."""
    if not trail.is_organization_trail:
        return None
    return organizations.get(trail.account_id)


def trail_partition(trail: Trail) -> str:
    arn = arn_or_none(trail.trail_arn)
    return arn.partition if arn is not None else partition_for(trail.home_region)


def _scope(trails: list[tuple[Trail, str | None]]) -> _Scope:
    placements = tuple(
        _Placement(
            t.trail_arn,
            trail_partition(t),
            t.home_region,
            t.is_multi_region_trail,
            t.include_global_service_events,
            org,
            t.logging_periods,
            t.is_logging,
        )
        for t, org in trails
    )
    return _Scope(SelectorIndex([t for t, _ in trails]), placements)


class RoutingEngine:
    __slots__ = (
        "_accounts",
        "_destinations",
        "_inputs",
        "_org_of",
        "_orgs",
        "_placed",
        "_seconds",
        "owners",
        "trail_count",
    )

    def __init__(
        self,
        accounts: dict[str, _Scope],
        orgs: dict[str, _Scope],
        org_of: dict[str, str],
        trail_count: int,
        owners: BucketOwners | None = None,
    ) -> None:
        self._accounts = accounts
        self._orgs = orgs
        self._org_of = org_of
        self.trail_count = trail_count
        #: Bucket owners the operator vouches for: the only source of cross-account copies
        self.owners = owners if owners is not None else BucketOwners()
        # Memos of values routing makes again and again (bounded; cleared when full).
        self._destinations: dict[tuple[str, str, str, str | None, str], Destination] = {}
        self._seconds: dict[object, int] = {}
        # Event (with whether it is a global service event) -> where it may go: a
        # stream's events take few distinct selector views (the same call by the same
        # caller on the same resources), so selector matching, fan-out and the S3
        # owner rule run once per view rather than once per event.
        self._placed: dict[tuple[Event, bool], _Placed] = {}
        # What each scope was compiled from, so the next compile can reuse it.
        self._inputs: dict[tuple[str, str], tuple[tuple[Trail, str | None], ...]] = {}

    @classmethod
    def compile(
        cls,
        trails: Sequence[Trail],
        organizations: Mapping[str, str] | None = None,
        previous: RoutingEngine | None = None,
        bucket_owners: Mapping[str, str] | None = None,
    ) -> RoutingEngine:
        """``organizations`` maps account id -> organization id for every account of
        every organization (the organization trail's owner included).

        ``bucket_owners``: the operator's owners file (bucket -> account); with the
        trails' own buckets it says who owns a bucket (:class:`BucketOwners`).

        ``previous``: the engine this one replaces; a scope whose trails are unchanged
        is taken from it rather than compiled again, so a change to one account's
        trails costs that account's scope, not every trail's."""
        org_of = dict(organizations or {})
        by_account: dict[str, list[tuple[Trail, str | None]]] = {}
        by_org: dict[str, list[tuple[Trail, str | None]]] = {}
        for t in trails:
            if not t.routable:  # a trail that never logged receives nothing
                continue
            org = organization_of(t, org_of)
            if org is None:
                by_account.setdefault(t.account_id, []).append((t, None))
            else:
                by_org.setdefault(org, []).append((t, org))
        old = previous._inputs if previous is not None else {}
        inputs: dict[tuple[str, str], tuple[tuple[Trail, str | None], ...]] = {}

        def scope(kind: str, key: str, members: list[tuple[Trail, str | None]]) -> _Scope:
            given = tuple(members)
            inputs[(kind, key)] = given
            if previous is not None and old.get((kind, key)) == given:
                found = (previous._accounts if kind == "account" else previous._orgs).get(key)
                if found is not None:
                    return found
            return _scope(members)

        engine = cls(
            {a: scope("account", a, ts) for a, ts in by_account.items()},
            {o: scope("org", o, ts) for o, ts in by_org.items()},
            org_of,
            len(trails),
            BucketOwners.of(trails, bucket_owners),
        )
        engine._inputs = inputs
        return engine

    def updated(
        self,
        accounts: Iterable[str],
        trails_of: Callable[[str], Sequence[Trail]],
        organization_trails: Sequence[Trail],
        trail_count: int,
    ) -> RoutingEngine:
        """This engine with the scopes of ``accounts`` compiled again, and every other
        scope taken as it is: what one changed trail costs (its account's scope, and
        its organization's if the account is in one), whatever the number of accounts.

        ``trails_of(account)``: the account's trails now (deleted ones kept for their
        late events included); ``organization_trails``: every organization trail now.
        The organization map is this engine's (a membership change compiles anew)."""
        org_of = self._org_of
        account_scopes = dict(self._accounts)
        org_scopes = dict(self._orgs)
        inputs = dict(self._inputs)
        orgs: set[str] = set()

        def rebuild(
            kind: str, key: str, members: list[tuple[Trail, str | None]], into: dict[str, _Scope]
        ) -> None:
            if members:
                inputs[(kind, key)] = tuple(members)
                into[key] = _scope(members)
            else:
                inputs.pop((kind, key), None)
                into.pop(key, None)

        for account in accounts:
            own = []
            for t in trails_of(account):
                if not t.routable:
                    continue
                org = organization_of(t, org_of)
                if org is None:
                    own.append((t, None))
                else:
                    orgs.add(org)
            rebuild("account", account, own, account_scopes)
            if account in org_of:
                orgs.add(org_of[account])
        for org in orgs:
            members = [
                (t, org)
                for t in organization_trails
                if t.routable and organization_of(t, org_of) == org
            ]
            rebuild("org", org, members, org_scopes)
        engine = RoutingEngine(account_scopes, org_scopes, org_of, trail_count)
        engine._inputs = inputs
        return engine

    def route(self, record: Mapping[str, Any], produced_ms: int | None = None) -> list[Destination]:
        """Destinations of a CloudTrail record, sorted, each once. ``produced_ms`` (the
        Kafka timestamp of the record, if known) places an event in the second of a
        StartLogging. Raises :class:`recorder.selectors.RecordError` for a record that
        cannot be routed."""
        event = event_from_record(record)
        is_global = is_global_service_event(record)
        key = (event, is_global)
        placed = self._placed.get(key)
        if placed is None:
            placed = self._place(event, is_global)
            if len(self._placed) >= _PLACED_LIMIT:
                self._placed.clear()
            self._placed[key] = placed
        out: list[Destination] = []
        when: _EventSecond | None = None
        for destination, placements in placed:
            for p in placements:
                if p.periods:
                    if when is None:
                        when = _EventSecond(record, produced_ms, self._seconds)
                    if not p.logging_at(when.second(), produced_ms):
                        continue
                out.append(destination)
                break
        return out

    def _place(self, event: Event, is_global: bool) -> _Placed:
        """Where ``event`` may go, whenever it happened: the trails whose selectors take
        it and that cover its region, in its account and its organization, and in the
        accounts owning the S3 resources it names (:mod:`recorder.routing.owners`)."""
        region = delivery_region(event.region, is_global)
        partition = partition_for(event.region)
        found: dict[Destination, list[_Placement]] = {}
        self._collect(event.account_id, event, is_global, region, partition, found)
        if self.owners:
            for owner, resources in foreign_owners(event, self.owners).items():
                found_event = event.with_resources(resources)
                self._collect(owner, found_event, is_global, region, partition, found)
        return tuple((d, tuple(found[d])) for d in sorted(found))

    def _collect(
        self,
        account: str,
        event: Event,
        is_global: bool,
        region: str,
        partition: str,
        found: dict[Destination, list[_Placement]],
    ) -> None:
        org = self._org_of.get(account)
        kind = kind_of_category(event.category)
        for scope in (self._accounts.get(account), None if org is None else self._orgs.get(org)):
            if scope is None:
                continue
            for i in scope.index.match(event):
                p = scope.placements[i]
                if p.covers(event.region, is_global, partition):
                    found.setdefault(self._destination(p, account, region, kind), []).append(p)

    def _destination(self, p: _Placement, account: str, region: str, kind: str) -> Destination:
        """One Destination value per (trail, account, region, kind), made once: the
        router names a few per event, and a frozen dataclass costs more to make than
        to look up."""
        key = (p.trail_arn, account, region, p.org_id, kind)
        found = self._destinations.get(key)
        if found is None:
            if len(self._destinations) >= _DESTINATIONS_LIMIT:
                self._destinations.clear()
            found = Destination(p.trail_arn, account, region, p.org_id, kind)
            self._destinations[key] = found
        return found


class _EventSecond:
    """The record's ``eventTime`` in epoch seconds, parsed only if a trail asks (and
    once per distinct text: a stream's events share a few seconds)."""

    __slots__ = ("_record", "_second", "_seen", "produced_ms")

    def __init__(
        self, record: Mapping[str, Any], produced_ms: int | None, seen: dict[object, int]
    ) -> None:
        self._record = record
        self._second: int | None = None
        self._seen = seen
        self.produced_ms = produced_ms

    def second(self) -> int:
        if self._second is None:
            text = self._record.get("eventTime")
            second = self._seen.get(text) if isinstance(text, str) else None
            if second is None:
                second = event_second(self._record)
                if len(self._seen) >= _SECONDS_LIMIT:
                    self._seen.clear()
                self._seen[text] = second
            self._second = second
        return self._second


def event_second(record: Mapping[str, Any]) -> int:
    """Epoch seconds of a record's ``eventTime``; RecordError if it has none."""
    try:
        return epoch_second(record.get("eventTime"))  # type: ignore[arg-type]
    except ValueError as exc:
        raise RecordError(f"eventTime: {exc}") from None
