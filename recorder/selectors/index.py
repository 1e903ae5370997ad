"""The compiled selector index: which of a set of trails select an event.

Built once per trail-set change. Matching an event costs a dictionary lookup for the
event-level part (memoised per category, source, name and read-only, which take few
distinct values) plus, for data events, a few lookups per resource ARN: exact ARNs in
a dict, ARN prefixes in a dict probed at each distinct prefix length. Neither grows
with the number of trails or data resources, unlike the reference matcher's scan.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from recorder.selectors.event import Event, Resource
from recorder.selectors.reference import field_holds
from recorder.selectors.rules import Rule, rules_for
from recorder.trails import Trail

#: Bound on memoised event-level results; cleared wholesale when reached.
MEMO_LIMIT = 65_536


@dataclass(slots=True)
class _ResourceIndex:
    """The resource rules of one resource type, filed by their ARN anchors."""

    exact: dict[str, list[int]] = field(default_factory=dict)
    prefixes: dict[str, list[int]] = field(default_factory=dict)
    lengths: tuple[int, ...] = ()
    scan: list[int] = field(default_factory=list)  # no anchor: every ARN is a candidate

    def candidates(self, arn: str) -> list[int]:
        found = list(self.scan)
        hit = self.exact.get(arn)
        if hit:
            found.extend(hit)
        prefixes = self.prefixes
        n = len(arn)
        for length in self.lengths:
            if length > n:
                break
            hit = prefixes.get(arn[:length])
            if hit:
                found.extend(hit)
        return found


_Key = tuple[str, str, str, bool]
# (trails matched, resource rules pending, rules pending on their other fields only)
_Outcome = tuple[frozenset[int], frozenset[int], frozenset[int]]


class SelectorIndex:
    """Immutable once compiled (its memo only caches); safe to share between tasks."""

    __slots__ = ("_by_type", "_memo", "_rules", "size")

    def __init__(self, trails: Sequence[Trail]) -> None:
        self.size = len(trails)
        self._rules: tuple[Rule, ...] = tuple(
            rule for i, t in enumerate(trails) if t.routable for rule in rules_for(i, t)
        )
        self._by_type: dict[str, _ResourceIndex] = {}
        for rule_id, rule in enumerate(self._rules):
            if rule.resource_type is None or rule.arn is None:
                continue
            ix = self._by_type.setdefault(rule.resource_type, _ResourceIndex())
            if not rule.arn.anchored:
                ix.scan.append(rule_id)
            for arn in rule.arn.exact:
                ix.exact.setdefault(arn, []).append(rule_id)
            for prefix in rule.arn.prefixes:
                ix.prefixes.setdefault(prefix, []).append(rule_id)
        for ix in self._by_type.values():
            ix.lengths = tuple(sorted({len(p) for p in ix.prefixes}))
        self._memo: dict[_Key, _Outcome] = {}

    def match(self, event: Event) -> frozenset[int]:
        """Positions (in the compiled sequence) of the trails that select ``event``."""
        key = (event.category, event.source, event.name, event.read_only)
        outcome = self._memo.get(key)
        if outcome is None:
            outcome = self._event_level(key)
        matched, pending, conditional = outcome
        if not conditional and (not pending or not event.resources):
            return matched
        found = set(matched)
        rules = self._rules
        for rule_id in conditional:
            rule = rules[rule_id]
            if rule.trail not in found and _others_hold(rule, event):
                found.add(rule.trail)
        for resource in event.resources:
            ix = self._by_type.get(resource.type)
            if ix is None:
                continue
            for rule_id in ix.candidates(resource.arn):
                if rule_id in pending:
                    rule = rules[rule_id]
                    if (
                        rule.trail not in found
                        and _verify(rule, resource)
                        and _others_hold(rule, event)
                    ):
                        found.add(rule.trail)
        return frozenset(found)

    def _event_level(self, key: _Key) -> _Outcome:
        category, source, name, read_only = key
        matched: set[int] = set()
        pending: set[int] = set()
        conditional: set[int] = set()
        for rule_id, rule in enumerate(self._rules):
            if (
                rule.category != category
                or read_only not in rule.read_only
                or (rule.source is not None and not field_holds(rule.source, source))
                or (rule.name is not None and not field_holds(rule.name, name))
            ):
                continue
            if rule.resource_type is not None:
                pending.add(rule_id)
            elif rule.others:
                conditional.add(rule_id)
            else:
                matched.add(rule.trail)
        # A trail already matched needs no other rule checked.
        pending = {r for r in pending if self._rules[r].trail not in matched}
        conditional = {r for r in conditional if self._rules[r].trail not in matched}
        outcome = (frozenset(matched), frozenset(pending), frozenset(conditional))
        if len(self._memo) >= MEMO_LIMIT:
            self._memo.clear()
        self._memo[key] = outcome
        return outcome


def _others_hold(rule: Rule, event: Event) -> bool:
    return all(field_holds(f, event.field(f.field)) for f in rule.others)


def _verify(rule: Rule, resource: Resource) -> bool:
    assert rule.arn is not None
    verify = rule.arn.verify
    return verify is None or field_holds(verify, resource.arn)
