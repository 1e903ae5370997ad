"""Trails found by ARN, by account, and by (account, name) without a scan. Pure.

Every lookup the control API makes is one of these: a trail by its ARN, an account's
trails (the five-per-Region check, ListTrails, DescribeTrails without names), a trail
by name in the caller's account (the name says nothing of the Region: the caller's
Region decides among the account's trails of that name), and the organization trails
(few; a member account sees its organization's). With ten thousand accounts a scan
of every trail per lookup is what made a DescribeTrails of 200 names take seconds;
here each is a dictionary lookup plus the account's own handful of trails.

The index is a read-only mapping of ARN to :class:`~recorder.trails.Trail` to its
readers; its owner changes it one trail at a time (:meth:`put`, :meth:`remove`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from recorder.trails.model import Trail


class TrailIndex(Mapping[str, Trail]):
    """Trails by ARN (the mapping), by account, by (account, name); organization
    trails and trails with Insights on kept apart, since both are few and looked for
    from every account."""

    __slots__ = ("_by_account", "_by_arn", "_by_name", "_insights", "_organization")

    def __init__(self, trails: Iterable[Trail] = ()) -> None:
        self._by_arn: dict[str, Trail] = {}
        self._by_account: dict[str, dict[str, Trail]] = {}
        self._by_name: dict[tuple[str, str], dict[str, Trail]] = {}
        self._organization: dict[str, Trail] = {}
        self._insights: dict[str, Trail] = {}
        for trail in trails:
            self.put(trail)

    # -- Mapping ----------------------------------------------------------------------
    def __getitem__(self, trail_arn: str) -> Trail:
        return self._by_arn[trail_arn]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_arn)

    def __len__(self) -> int:
        return len(self._by_arn)

    def __contains__(self, trail_arn: object) -> bool:
        return trail_arn in self._by_arn

    # -- lookups ----------------------------------------------------------------------
    def of_account(self, account_id: str) -> list[Trail]:
        """The account's own trails, in every Region."""
        found = self._by_account.get(account_id)
        return list(found.values()) if found else []

    def named(self, account_id: str, name: str) -> list[Trail]:
        """The account's trails of this name (one per Region at most, or one
        multi-Region trail)."""
        found = self._by_name.get((account_id, name))
        return list(found.values()) if found else []

    def organization_trails(self) -> list[Trail]:
        return list(self._organization.values())

    def insight_trails(self) -> list[Trail]:
        """Trails with an Insights type on (logging or not)."""
        return list(self._insights.values())

    def accounts(self) -> int:
        return len(self._by_account)

    # -- changes ----------------------------------------------------------------------
    def put(self, trail: Trail) -> None:
        """Add a trail, or replace the one with its ARN."""
        arn = trail.trail_arn
        if arn in self._by_arn:
            self.remove(arn)
        self._by_arn[arn] = trail
        self._by_account.setdefault(trail.account_id, {})[arn] = trail
        self._by_name.setdefault((trail.account_id, trail.name), {})[arn] = trail
        if trail.is_organization_trail:
            self._organization[arn] = trail
        if trail.insight_types:
            self._insights[arn] = trail

    def remove(self, trail_arn: str) -> Trail | None:
        trail = self._by_arn.pop(trail_arn, None)
        if trail is None:
            return None
        _drop(self._by_account, trail.account_id, trail_arn)
        _drop(self._by_name, (trail.account_id, trail.name), trail_arn)
        self._organization.pop(trail_arn, None)
        self._insights.pop(trail_arn, None)
        return trail


def _drop(table: dict, key: object, trail_arn: str) -> None:  # type: ignore[type-arg]
    found = table.get(key)
    if found is not None:
        found.pop(trail_arn, None)
        if not found:
            del table[key]
