"""Selectors of either kind lowered to one rule form the index can file.

A rule is one way for a trail to match: event-level tests (category, read-only,
event source and name) and, for data events, a test on one resource: its type and an
ARN test made of *anchors* (exact ARNs and ARN prefixes, any of which may hold) and an
optional full field selector that must also hold. Basic data resources become pure
anchors, which is what lets the index find them by lookup instead of by scan.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from recorder.aws.arn import partition_of
from recorder.trails import (
    LAMBDA_FUNCTION,
    S3_OBJECT,
    AdvancedEventSelector,
    EventSelector,
    FieldSelector,
    Trail,
)

_READ_WRITE = {
    "All": frozenset({True, False}),
    "ReadOnly": frozenset({True}),
    "WriteOnly": frozenset({False}),
    "None": frozenset(),
}
_BOTH = frozenset({True, False})


@dataclass(frozen=True, slots=True)
class ArnTest:
    exact: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] = ()
    verify: FieldSelector | None = None  # must hold as well, when present

    @property
    def anchored(self) -> bool:
        return bool(self.exact or self.prefixes)


@dataclass(frozen=True, slots=True)
class Rule:
    trail: int  # position of the trail in the compiled set
    category: str
    read_only: frozenset[bool]
    source: FieldSelector | None = None
    name: FieldSelector | None = None
    resource_type: str | None = None  # None: no resource test
    arn: ArnTest | None = None
    # Event-level tests beyond category, read-only, source and name (eventType,
    # userIdentity.arn, ...): checked per event, since their values are many.
    others: tuple[FieldSelector, ...] = ()


#: Event-level fields a rule tests through ``others``.
OTHER_FIELDS = frozenset(
    {"eventType", "errorCode", "userIdentity.arn", "sessionCredentialFromConsole", "vpcEndpointId"}
)


def rules_for(position: int, trail: Trail) -> Iterator[Rule]:
    if trail.advanced_event_selectors:
        for a in trail.advanced_event_selectors:
            yield _advanced_rule(position, a)
        return
    for s in trail.effective_event_selectors:
        yield from _basic_rules(position, s)


def _basic_rules(position: int, s: EventSelector) -> Iterator[Rule]:
    read_only = _READ_WRITE[s.read_write_type]
    if not read_only:
        return
    if s.include_management_events:
        excluded = s.exclude_management_event_sources
        source = FieldSelector("eventSource", not_equals=excluded) if excluded else None
        yield Rule(position, "Management", read_only, source=source)
    by_type: dict[str, list[str]] = {}
    for d in s.data_resources:
        by_type.setdefault(d.type, []).extend(d.values)
    for rtype, values in by_type.items():
        exact: set[str] = set()
        prefixes: list[str] = []
        for v in values:
            e, p = _anchors(rtype, v)
            exact.update(e)
            prefixes.extend(p)
        arn = ArnTest(frozenset(exact), tuple(dict.fromkeys(prefixes)))
        yield Rule(position, "Data", read_only, resource_type=rtype, arn=arn)


def _anchors(rtype: str, value: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A data resource value as exact ARNs and ARN prefixes (see the reference matcher
    for the meaning of each form)."""
    partition = partition_of(value)
    if rtype == S3_OBJECT:
        objects = f"arn:{partition}:s3:::"
        if value in (f"arn:{partition}:s3", objects):
            return (), (objects,)
        bucket, _, prefix = value[len(objects) :].partition("/")
        return (), (f"{objects}{bucket}/{prefix}",)
    assert rtype == LAMBDA_FUNCTION
    if value == f"arn:{partition}:lambda":
        return (), (f"arn:{partition}:lambda:",)
    return (value,), (value + ":",)


def _advanced_rule(position: int, a: AdvancedEventSelector) -> Rule:
    read_only_field = a.field("readOnly")
    read_only = (
        _BOTH if read_only_field is None else frozenset({read_only_field.equals[0] == "true"})
    )
    type_field = a.field("resources.type")
    arn_field = a.field("resources.ARN")
    arn: ArnTest | None = None
    if type_field is not None:
        if arn_field is None:
            arn = ArnTest()
        elif arn_field.equals:
            arn = ArnTest(exact=frozenset(arn_field.equals), verify=arn_field)
        elif arn_field.starts_with:
            only_starts = arn_field == FieldSelector(
                "resources.ARN", starts_with=arn_field.starts_with
            )
            verify = None if only_starts else arn_field
            arn = ArnTest(prefixes=arn_field.starts_with, verify=verify)
        else:
            arn = ArnTest(verify=arn_field)
    return Rule(
        position,
        a.category,
        read_only,
        source=a.field("eventSource"),
        name=a.field("eventName"),
        resource_type=None if type_field is None else type_field.equals[0],
        arn=arn,
        others=tuple(f for f in a.field_selectors if f.field in OTHER_FIELDS),
    )
