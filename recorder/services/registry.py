"""The trail registry every service reads: the current trails and their compiled engine.

Two sources:

* the compacted ``trails`` topic (key = trail ARN, value = the trail as JSON,
  tombstone = deleted): the control API writes it, every process materialises it
  from the beginning, so a restart or a new replica converges to the same state;
* a trails file, for running without the control API (the quick start): JSON or
  YAML, a list of trails in DescribeTrails shape plus ``IsLogging``/
  ``EventSelectors``/``AdvancedEventSelectors``, or an object
  ``{"trails": [...], "organizations": {"<account>": "o-..."}}``; reloaded on change.

The router reads :meth:`engine` per batch, so a change takes effect without a
restart; the swap is one reference assignment.

Compiling is CPU work (about a second for 10,000 trails), and the same event loop
serves ``/healthz``, the control API and the router's polls, so parsing and compiling
run in a worker thread, and incrementally: a trail document is parsed once when it
changes, and only the scopes (an account's trails, its organization's) of the
accounts whose trails changed are compiled again (:meth:`RoutingEngine.updated`); a
batch of `trails` records that changes no trail (the control API's write leases)
compiles nothing. The trails are indexed by ARN, account and name
(:class:`~recorder.trails.index.TrailIndex`), which is what the control API looks
them up by.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from recorder.aws.arn import is_channel_arn
from recorder.aws.times import format_millis, from_epoch_ms
from recorder.delivery.target import DeliveryTarget
from recorder.kafka import clients
from recorder.kafka.pacing import Pacer, Pauses
from recorder.obs.logging import get_logger
from recorder.retry import BROKER_LOOP, FailureStreak
from recorder.routing import RoutingEngine
from recorder.settings import Settings
from recorder.trails import Trail
from recorder.trails.index import TrailIndex
from recorder.trails.leases import LeaseTable, epoch_of
from recorder.trails.organizations import Organization
from recorder.trails.retired import DELETED_AT, is_retired, retire, retired_trail

log = get_logger("recorder.registry")
#: Keys of the control API's per-account write leases on `trails` (recorder.api.leases).
LEASE_PREFIX = "lease/"
#: Keys of declared organization memberships on `trails` (value {"OrganizationId"}).
ORGANIZATION_PREFIX = "organization/"
READ_RECORDS = 5000

#: Trails deleted by a bare tombstone (before retired records) kept in memory for the
#: routing of their late events (see TrailRegistry._retire).
RETIRED_MAX = 10_000
#: Recent stale records remembered for their writers (TrailRegistry.was_fenced).
FENCED_KEPT = 10_000


def _account_of(key: str) -> str:
    """The account of a trail ARN key ("" for other keys)."""
    parts = key.split(":", 5)
    return parts[4] if len(parts) == 6 and parts[0] == "arn" else ""


def _parse(changed: dict[str, dict[str, Any] | None]) -> dict[str, Trail | None]:
    """The trails of changed documents (in a worker thread); ``None``: deleted, or not
    a trail (an organization record, a document that does not parse)."""
    out: dict[str, Trail | None] = {}
    for arn, doc in changed.items():
        out[arn] = None
        if doc is None or arn.startswith(ORGANIZATION_PREFIX):
            continue
        try:
            out[arn] = Trail.from_api(doc)
        except Exception as exc:
            log.error("trails_topic_invalid_trail", trail_arn=arn, error=str(exc))
    return out


def load_trails_document(raw: bytes | str) -> tuple[list[Trail], dict[str, str]]:
    text = raw.decode() if isinstance(raw, bytes) else raw
    try:
        doc: Any = orjson.loads(text)
    except orjson.JSONDecodeError:
        doc = yaml.safe_load(text)
    organizations: dict[str, str] = {}
    if isinstance(doc, dict):
        organizations = {str(k): str(v) for k, v in (doc.get("organizations") or {}).items()}
        doc = doc.get("trails", [])
    if not isinstance(doc, list):
        raise ValueError("trails document must be a list of trails or {'trails': [...]}")
    return [Trail.from_api(t) for t in doc], organizations


@dataclass
class TrailRegistry:
    settings: Settings
    #: The current trails by ARN (a read-only mapping), by account and by name.
    trails: TrailIndex = field(default_factory=TrailIndex)
    organizations: dict[str, str] = field(default_factory=dict)
    version: int = 0
    #: The organization read from AWS Organizations (recorder.services.organizations);
    #: its accounts join ``organizations``, over any declared in a trails file.
    organization: Organization | None = None

    def __post_init__(self) -> None:
        self._engine = RoutingEngine.compile([], {})
        self._bucket_owners = _bucket_owners(self.settings)
        self._mtime: float | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._pacer: Pacer | None = None
        self._topic_state: dict[str, dict[str, Any]] = {}
        # Deleted trails, as they were at deletion with their last period closed then:
        # routing still gives them the events of before their deletion (line 8394).
        self._retired = TrailIndex()
        self._declared_orgs: dict[str, str] = {}
        self.position = 0  # next offset of `trails` to read
        self._wanted = 0  # someone waits until the position reaches this: no pacing
        self._changed = asyncio.Condition()
        #: The control API's per-account write leases and their fences, replayed from
        #: the `trails` records in order (recorder.trails.leases).
        self.leases = LeaseTable()
        #: CloudTrail Lake channels (CreateChannel), by channel ARN: stored on `trails`
        #: under their ARN like trails, written under the same account leases.
        self.channels: dict[str, dict[str, Any]] = {}
        #: Offsets of recent records ignored as stale (the writer learns its outcome).
        self.fenced: OrderedDict[int, str] = OrderedDict()
        #: Keys whose last record was ignored as stale: the control API writes their
        #: accepted document again (recorder.api.store), so compaction cannot keep the
        #: stale one in its place.
        self.dangling: dict[str, int] = {}
        self._deleted_at: dict[str, str] = {}

    @property
    def changed(self) -> asyncio.Condition:
        """Notified after each batch of `trails` records is applied."""
        return self._changed

    @property
    def from_file(self) -> bool:
        return self.settings.trails_file is not None

    @classmethod
    async def start(cls, settings: Settings) -> TrailRegistry:
        """Load the registry; from the topic, read up to its end before returning."""
        registry = cls(settings)
        if registry.from_file:
            await registry.reload_file()
        else:
            await registry._open_topic()
            await registry.catch_up()
        return registry

    # -- reading ----------------------------------------------------------------------
    def engine(self) -> RoutingEngine:
        return self._engine

    def get(self, trail_arn: str) -> Trail | None:
        return self.trails.get(trail_arn)

    def target(self, trail_arn: str) -> DeliveryTarget | None:
        """Where a trail delivers; a deleted trail's too, for the events of its last
        logging period that are still on their way."""
        trail = self.trails.get(trail_arn) or self._retired.get(trail_arn)
        if trail is None:
            return None
        return DeliveryTarget(
            bucket=trail.s3_bucket_name,
            prefix=trail.s3_key_prefix,
            kms_key_id=trail.kms_key_id,
            sns_topic_arn=trail.sns_topic_arn,
            log_file_validation=trail.log_file_validation_enabled,
        )

    def management_account_of(self, org_id: str) -> str | None:
        """The management account of an organization read from AWS Organizations."""
        org = self.organization
        return org.management_account_id if org is not None and org.org_id == org_id else None

    # -- changing ---------------------------------------------------------------------
    async def set_organization(self, org: Organization | None) -> None:
        """New membership from AWS Organizations; recompiles routing if it changed."""
        if org == self.organization:
            return
        self.organization = org
        await self.replace(list(self.trails.values()), self._declared_orgs)

    async def replace(self, trails: list[Trail], organizations: dict[str, str]) -> None:
        """Swap in this trail set; its engine is compiled off the event loop."""
        self._declared_orgs = dict(organizations)
        merged = dict(organizations)
        if self.organization is not None:
            merged.update(self.organization.account_map())
        engine = await asyncio.to_thread(
            RoutingEngine.compile,
            [*trails, *self._retired.values()],
            merged,
            self._engine,
            self._bucket_owners,
        )
        self.trails = TrailIndex(trails)
        self.organizations = merged
        self._engine = engine
        self.version += 1
        log.info("trails_loaded", trails=len(trails), version=self.version)

    async def _update(self, changed: dict[str, Trail | None]) -> None:
        """Apply changed topic trails (``None``: deleted) and compile the scopes of
        their accounts only, off the event loop."""
        accounts: set[str] = set()
        trails, retired = self.trails, self._retired
        for arn, trail in changed.items():
            old = trails.remove(arn)
            if old is not None:
                accounts.add(old.account_id)
            if trail is not None:
                trails.put(trail)
                accounts.add(trail.account_id)
            gone = retired.get(arn)
            if gone is not None:
                accounts.add(gone.account_id)

        def trails_of(account: str) -> list[Trail]:
            return [*trails.of_account(account), *retired.of_account(account)]

        organization_trails = [*trails.organization_trails(), *retired.organization_trails()]
        self._engine = await asyncio.to_thread(
            self._engine.updated, accounts, trails_of, organization_trails, len(trails)
        )
        self.version += 1
        log.info("trails_changed", trails=len(trails), accounts=len(accounts), version=self.version)

    async def reload_file(self) -> bool:
        path: Path | None = self.settings.trails_file
        if path is None:
            return False
        try:
            mtime = await asyncio.to_thread(lambda: path.stat().st_mtime)
        except FileNotFoundError:
            log.warning("trails_file_missing", path=str(path))
            return False
        if mtime == self._mtime:
            return False
        try:
            trails, orgs = await asyncio.to_thread(lambda: load_trails_document(path.read_bytes()))
        except Exception as exc:  # a bad edit keeps the last good trail set
            log.error("trails_file_invalid", path=str(path), error=str(exc))
            self._mtime = mtime
            return False
        self._mtime = mtime
        await self.replace(trails, orgs)
        return True

    async def follow(self, stop: asyncio.Event, *, paced: bool = True) -> None:
        """Apply trail changes as they land; ``paced``: let them gather a moment
        (recorder.kafka.pacing) where nothing waits on them but routing."""
        failures = FailureStreak(BROKER_LOOP)
        while not stop.is_set():
            if self.from_file:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 2.0)
                await self.reload_file()
            else:
                try:
                    await self._read(timeout_ms=500, paced=paced)
                except KafkaError as exc:
                    log.warning("trails_topic_read_failed", error=repr(exc))
                    await asyncio.sleep(failures.failed())
                else:
                    failures.succeeded()

    async def close(self) -> None:
        if self._consumer is not None:
            with contextlib.suppress(Exception):
                await self._consumer.stop()

    # -- the `trails` topic -----------------------------------------------------------
    async def _open_topic(self) -> None:
        self._tp = TopicPartition(self.settings.topics.trails, 0)
        self._consumer = clients.consumer(self.settings, group_id=None)
        await self._consumer.start()
        self._consumer.assign([self._tp])
        await self._consumer.seek_to_beginning(self._tp)
        self._pacer = Pacer(
            self._consumer, Pauses(self._consumer), self.settings.poll_linger, READ_RECORDS
        )

    async def catch_up(self) -> None:
        """Read until the end offset seen now: a caller then sees every earlier change."""
        assert self._consumer is not None
        end = (await self._consumer.end_offsets([self._tp]))[self._tp]
        self._wanted = max(self._wanted, end)
        while self.position < end:
            await self._read(timeout_ms=500)

    async def fresh(self, within: float = 10.0) -> None:
        """Wait until every `trails` record written before this call is applied: what
        routing needs to see a trail change that returned before an event was made.
        One ListOffsets request when up to date; the follow loop does the reading."""
        if self._consumer is None:  # a trails file: nothing to wait for
            return
        end = (await self._consumer.end_offsets([self._tp]))[self._tp]
        if self.position < end:
            await self.wait_for_offset(end - 1, within)

    async def wait_for_offset(self, offset: int, within: float = 10.0) -> None:
        """Read-your-writes for the control API: wait until ``offset`` is applied."""
        if self.position <= offset:
            self._wanted = max(self._wanted, offset + 1)
            if self._pacer is not None:
                self._pacer.wake()
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(lambda: self.position > offset)

    async def _read(self, timeout_ms: int, *, paced: bool = False) -> None:
        assert self._consumer is not None and self._pacer is not None
        if paced and self.position >= self._wanted:
            # following with nobody waiting: trail changes may gather a moment
            batch = await self._pacer.poll(self._tp, timeout_ms=timeout_ms)
        else:  # catching up, or a caller waits for its write: read at once
            self._pacer.wake()
            batch = await self._consumer.getmany(
                self._tp, timeout_ms=timeout_ms, max_records=READ_RECORDS
            )
        messages = batch.get(self._tp, [])
        if not messages:
            return
        await self._apply(messages)
        # Only now: a reader waiting for this offset sees the engine that includes it,
        # and a lease this batch granted is acted on (recorder.api.leases waits for the
        # position to pass the granting record) with every earlier write applied.
        self.position = messages[-1].offset + 1
        async with self._changed:
            self._changed.notify_all()

    async def _apply(self, messages: list[Any]) -> None:
        """Apply a batch of `trails` records (in offset order): the trails they change
        are parsed off the event loop, and routing is compiled for their accounts; a
        batch of lease records changes nothing here.

        Every record moves the lease table (:class:`~recorder.trails.leases.LeaseTable`)
        on, and a trail record is taken only if its lease epoch is not below its
        account's fence at that point: a stale writer's record is ignored here as in
        every other reader of the log."""
        changed: dict[str, dict[str, Any] | None] = {}
        organizations = False
        for m in messages:
            arn = (m.key or b"").decode()
            timestamp = int(m.timestamp)
            if arn.startswith(LEASE_PREFIX):
                self.leases.apply(arn, m.value, timestamp, m.offset)
                continue  # the control API's write leases, not trails
            epoch = epoch_of(m.headers)
            if not self.leases.admits(_account_of(arn), epoch, timestamp, m.offset):
                self._fence(arn, m.offset, epoch)
                continue
            self.dangling.pop(arn, None)
            if is_channel_arn(arn):
                self._apply_channel(arn, m.value, m.offset)
                continue
            if arn.startswith(ORGANIZATION_PREFIX):
                organizations = True
            if m.value is None:
                old = self._topic_state.pop(arn, None)
                if old is not None and is_retired(old):
                    self._retired.remove(arn)  # its parking period is over
                    self._deleted_at.pop(arn, None)
                else:
                    self._retire(arn, old, timestamp)  # deleted before retired records
                changed[arn] = None
                continue
            try:
                doc = orjson.loads(m.value)
            except orjson.JSONDecodeError:
                log.error("trails_topic_bad_value", trail_arn=arn, offset=m.offset)
                continue
            self._topic_state[arn] = doc
            if isinstance(doc, dict) and is_retired(doc):
                self._retire_document(arn, doc)
                changed[arn] = None
            else:
                self._retired.remove(arn)
                self._deleted_at.pop(arn, None)
                changed[arn] = doc
        if not changed:
            return
        parsed = await asyncio.to_thread(_parse, changed)
        if organizations:  # declared memberships changed: the whole engine
            orgs = {
                arn[len(ORGANIZATION_PREFIX) :]: str(doc.get("OrganizationId", ""))
                for arn, doc in self._topic_state.items()
                if arn.startswith(ORGANIZATION_PREFIX)
            }
            trails = dict(self.trails)
            for arn, trail in parsed.items():
                if trail is None:
                    trails.pop(arn, None)
                else:
                    trails[arn] = trail
            await self.replace(list(trails.values()), orgs)
        else:
            await self._update(parsed)

    def _apply_channel(self, arn: str, value: bytes | None, offset: int) -> None:
        if value is None:
            self.channels.pop(arn, None)
            return
        try:
            doc = orjson.loads(value)
        except orjson.JSONDecodeError:
            log.error("trails_topic_bad_value", channel_arn=arn, offset=offset)
            return
        if isinstance(doc, dict):
            self.channels[arn] = doc

    def _fence(self, key: str, offset: int, epoch: int | None) -> None:
        """A trail record written under a lease another writer's grant has passed."""
        self.fenced[offset] = key
        while len(self.fenced) > FENCED_KEPT:
            self.fenced.popitem(last=False)
        self.dangling[key] = offset
        log.warning(
            "trail_write_fenced",
            trail_arn=key,
            offset=offset,
            epoch=epoch,
            fence=self.leases.fences.get(_account_of(key)),
        )

    def was_fenced(self, offset: int) -> bool:
        """Whether the record at ``offset`` (applied already) was ignored as stale."""
        return offset in self.fenced

    def _retire_document(self, arn: str, doc: dict[str, Any]) -> None:
        """A retired trail's record (DeleteTrail): kept for routing and delivery of its
        late events until the API tombstones it after the parking period."""
        try:
            trail = retired_trail(doc)
        except Exception as exc:
            log.error("trails_topic_invalid_trail", trail_arn=arn, error=str(exc))
            return
        self._retired.put(trail)
        self._deleted_at[arn] = str(doc[DELETED_AT])

    def _retire(self, arn: str, doc: dict[str, Any] | None, timestamp_ms: int) -> None:
        """A trail deleted by a tombstone (before DeleteTrail wrote retired records)
        stops logging at its deletion (the tombstone's time); it is kept in memory for
        the routing of events of before then, at most ``RETIRED_MAX`` of them."""
        if doc is None or arn.startswith(ORGANIZATION_PREFIX):
            return
        deleted = format_millis(from_epoch_ms(timestamp_ms))
        try:
            trail = retired_trail(retire(doc, deleted))
        except Exception as exc:
            log.error("trails_topic_invalid_trail", trail_arn=arn, error=str(exc))
            return
        if trail.logging_periods:
            self._retired.put(trail)
            while len(self._retired) > RETIRED_MAX:
                self._retired.remove(next(iter(self._retired)))
        log.info("trail_retired", trail_arn=arn, deleted=deleted)

    def retired(self) -> dict[str, str]:
        """Trails retired by DeleteTrail: ARN -> when they were deleted."""
        return dict(self._deleted_at)

    def document(self, trail_arn: str) -> dict[str, Any] | None:
        """The stored JSON of a trail (what the control API publishes)."""
        return self._topic_state.get(trail_arn)


def _bucket_owners(settings: Settings) -> dict[str, str]:
    """The operator's owners file (RECORDER_BUCKET_OWNERS_FILE), read once at start."""
    from recorder.routing.owners import load_owners_file
    from recorder.settings import SettingsError

    if settings.bucket_owners_file is None:
        return {}
    try:
        return load_owners_file(settings.bucket_owners_file)
    except ValueError as exc:
        raise SettingsError(f"RECORDER_BUCKET_OWNERS_FILE: {exc}") from None
