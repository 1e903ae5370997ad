"""Event selectors as a trail holds them: basic (PutEventSelectors ``EventSelectors``)
and advanced (``AdvancedEventSelectors``), parsed from and rendered to the API shape.

Parsing validates: what CloudTrail would refuse raises ``TrailError`` with
``InvalidEventSelectorsException`` and a message naming the bad value, so the control
API answers a real client exactly as CloudTrail does (guide lines 4532-4935).
Matching lives in :mod:`recorder.selectors`; this module only says what a selector is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from recorder.aws.arn import PARTITION as _PARTITION
from recorder.trails.errors import TrailError

INVALID = "InvalidEventSelectorsException"

S3_OBJECT = "AWS::S3::Object"
LAMBDA_FUNCTION = "AWS::Lambda::Function"
#: The data resource types of the guide (line 4712).
DATA_RESOURCE_TYPES: frozenset[str] = frozenset({S3_OBJECT, LAMBDA_FUNCTION})
#: What an advanced event selector's ``resources.type`` also takes: the data event types
#: CloudTrail logs for other services (CloudTrail User Guide, Logging data events, the
#: data event types table; the hook classifies their calls as data events by
#: recorder.events.conventions.DATA_EVENTS).
ADVANCED_DATA_RESOURCE_TYPES: frozenset[str] = DATA_RESOURCE_TYPES | frozenset(
    {
        "AWS::DynamoDB::Table",
        "AWS::DynamoDB::Stream",
        "AWS::EC2::Snapshot",
        "AWS::SageMaker::FeatureGroup",
        "AWS::S3Outposts::Object",
        "AWS::CloudTrail::Channel",
    }
)

READ_WRITE_TYPES: frozenset[str] = frozenset({"All", "ReadOnly", "WriteOnly", "None"})
#: "In this release, you can exclude events only from the event source kms.amazonaws.com."
EXCLUDABLE_SOURCES: frozenset[str] = frozenset({"kms.amazonaws.com"})

MAX_EVENT_SELECTORS = 5  # line 1250
MAX_DATA_RESOURCES = 250  # across all event selectors of a trail, line 1251
MAX_ADVANCED_VALUES = 500  # CloudTrail API reference: values across all advanced selectors

# All objects in all buckets: the guide writes both "arn:aws:s3" and "arn:aws:s3:::".
_S3_ALL = re.compile(rf"arn:{_PARTITION}:s3(?::::)?")
_S3_OBJECTS = re.compile(rf"arn:{_PARTITION}:s3:::(?P<bucket>[A-Za-z0-9._-]+)(?P<rest>/.*)?")
_LAMBDA_ALL = re.compile(rf"arn:{_PARTITION}:lambda")
_LAMBDA_FUNCTION = re.compile(
    rf"arn:{_PARTITION}:lambda:[a-z]{{2}}(?:-[a-z]+)+-\d+:\d{{12}}:function:"
    r"[A-Za-z0-9_-]{1,64}(?::[A-Za-z0-9$_-]{1,128})?"
)

#: ``eventCategory`` of events from outside AWS (the CloudTrail Lake integrations
#: event schema: "For non-AWS events, the value is ActivityAuditLog").
ACTIVITY_AUDIT_LOG = "ActivityAuditLog"

_OPERATORS = ("Equals", "StartsWith", "EndsWith", "NotEquals", "NotStartsWith", "NotEndsWith")
#: The fields a trail's advanced selectors may use, per eventCategory (CloudTrail API
#: reference, AdvancedFieldSelector; the event-data-store-only fields are not here).
#: Management selectors keep eventName, which recorder has always accepted for them.
CATEGORY_FIELDS: Mapping[str, frozenset[str]] = {
    "Management": frozenset({"eventCategory", "eventSource", "eventName", "readOnly"}),
    "Data": frozenset(
        {
            "eventCategory",
            "eventSource",
            "eventName",
            "eventType",
            "readOnly",
            "resources.type",
            "resources.ARN",
            "sessionCredentialFromConsole",
            "userIdentity.arn",
        }
    ),
    "NetworkActivity": frozenset(
        {
            "eventCategory",
            "eventSource",
            "eventName",
            "errorCode",
            "vpcEndpointId",
            "userIdentity.arn",
        }
    ),
    # Events of your own applications (PutAuditEvents through a Custom channel): on AWS
    # they reach event data stores only; recorder has none, so a trail opts in to them
    # with this category, as an event data store for integrations selects them.
    ACTIVITY_AUDIT_LOG: frozenset({"eventCategory", "eventSource", "eventName"}),
}
ADVANCED_FIELDS: frozenset[str] = frozenset().union(*CATEGORY_FIELDS.values())
_EQUALS_ONLY = frozenset({"eventCategory", "readOnly", "resources.type"})
EVENT_CATEGORIES: frozenset[str] = frozenset(CATEGORY_FIELDS)
#: Fields whose every value must be one of these (any operator).
_ENUMERATED: Mapping[str, frozenset[str]] = {
    "sessionCredentialFromConsole": frozenset({"true", "false"}),
    "errorCode": frozenset({"VpceAccessDenied"}),  # the one network activity error code
}


@dataclass(frozen=True, slots=True)
class DataResource:
    """One ``DataResources`` entry: a resource type and its ARN values (prefixes)."""

    type: str
    values: tuple[str, ...]

    def to_api(self) -> dict[str, Any]:
        return {"Type": self.type, "Values": list(self.values)}


@dataclass(frozen=True, slots=True)
class EventSelector:
    """A basic event selector; the defaults are CloudTrail's (all management events)."""

    read_write_type: str = "All"
    include_management_events: bool = True
    data_resources: tuple[DataResource, ...] = ()
    exclude_management_event_sources: tuple[str, ...] = ()

    def to_api(self) -> dict[str, Any]:
        return {
            "ReadWriteType": self.read_write_type,
            "IncludeManagementEvents": self.include_management_events,
            "DataResources": [d.to_api() for d in self.data_resources],
            "ExcludeManagementEventSources": list(self.exclude_management_event_sources),
        }


#: What a trail without event selectors logs: all management events, no data events.
DEFAULT_EVENT_SELECTORS: tuple[EventSelector, ...] = (EventSelector(),)


@dataclass(frozen=True, slots=True)
class FieldSelector:
    """One statement of an advanced selector: a field and its operators' values."""

    field: str
    equals: tuple[str, ...] = ()
    starts_with: tuple[str, ...] = ()
    ends_with: tuple[str, ...] = ()
    not_equals: tuple[str, ...] = ()
    not_starts_with: tuple[str, ...] = ()
    not_ends_with: tuple[str, ...] = ()

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {"Field": self.field}
        for op, values in zip(_OPERATORS, self._operator_values(), strict=True):
            if values:
                out[op] = list(values)
        return out

    def _operator_values(self) -> tuple[tuple[str, ...], ...]:
        return (
            self.equals,
            self.starts_with,
            self.ends_with,
            self.not_equals,
            self.not_starts_with,
            self.not_ends_with,
        )

    def value_count(self) -> int:
        return sum(len(v) for v in self._operator_values())


@dataclass(frozen=True, slots=True)
class AdvancedEventSelector:
    """Field selectors AND-ed; a trail's advanced selectors are OR-ed."""

    field_selectors: tuple[FieldSelector, ...]
    name: str | None = None

    def field(self, name: str) -> FieldSelector | None:
        return next((f for f in self.field_selectors if f.field == name), None)

    @property
    def category(self) -> str:
        """The one ``eventCategory`` the selector applies to (validation guarantees it)."""
        f = self.field("eventCategory")
        assert f is not None and f.equals
        return f.equals[0]

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {"FieldSelectors": [f.to_api() for f in self.field_selectors]}
        if self.name is not None:
            out["Name"] = self.name
        return out


# -- parsing and validation ----------------------------------------------------------
def _fail(message: str) -> TrailError:
    return TrailError(INVALID, message)


def _as_list(value: object, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise _fail(f"{what} must be a list, not {value!r}.")
    return value


def _as_mapping(value: object, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(f"{what} must be an object, not {value!r}.")
    return value


def _check_keys(obj: Mapping[str, Any], allowed: frozenset[str] | set[str], what: str) -> None:
    for key in obj:
        if key not in allowed:
            raise _fail(f"Unknown member {key!r} in {what}.")


def is_data_resource_value(resource_type: str, value: str) -> bool:
    """Whether ``value`` is an ARN (or all-resources form) valid for ``resource_type``."""
    if resource_type == S3_OBJECT:
        return bool(_S3_ALL.fullmatch(value) or _S3_OBJECTS.fullmatch(value))
    if resource_type == LAMBDA_FUNCTION:
        return bool(_LAMBDA_ALL.fullmatch(value) or _LAMBDA_FUNCTION.fullmatch(value))
    return False


def _parse_data_resource(raw: object) -> DataResource:
    d = _as_mapping(raw, "DataResource")
    _check_keys(d, {"Type", "Values"}, "DataResource")
    rtype = d.get("Type")
    if rtype not in DATA_RESOURCE_TYPES:
        raise _fail(f"Value {rtype} for DataResources.Type is invalid.")
    values = _as_list(d.get("Values"), "DataResources.Values")
    if not values:
        raise _fail(f"DataResources.Values for {rtype} must not be empty.")
    for v in values:
        if not isinstance(v, str) or not is_data_resource_value(rtype, v):
            raise _fail(f"Value {v} for DataResources.Values is invalid.")
    return DataResource(rtype, tuple(values))


def _parse_event_selector(raw: object) -> EventSelector:
    d = _as_mapping(raw, "EventSelector")
    _check_keys(
        d,
        {
            "ReadWriteType",
            "IncludeManagementEvents",
            "DataResources",
            "ExcludeManagementEventSources",
        },
        "EventSelector",
    )
    rw = d.get("ReadWriteType", "All")
    if rw not in READ_WRITE_TYPES:
        raise _fail(f"Value {rw} for ReadWriteType is invalid.")
    include = d.get("IncludeManagementEvents", True)
    if not isinstance(include, bool):
        raise _fail(f"Value {include!r} for IncludeManagementEvents is invalid.")
    excluded: list[str] = []
    # An empty string is how the guide turns the exclusion off again (line 4674).
    for source in _as_list(d.get("ExcludeManagementEventSources", []), "ExcludeSources"):
        if source == "":
            continue
        if source not in EXCLUDABLE_SOURCES:
            raise _fail(f"Value {source} for ExcludeManagementEventSources is invalid.")
        if source not in excluded:
            excluded.append(source)
    resources = tuple(
        _parse_data_resource(r) for r in _as_list(d.get("DataResources", []), "DataResources")
    )
    return EventSelector(rw, include, resources, tuple(excluded))


def parse_event_selectors(raw: object) -> tuple[EventSelector, ...]:
    """PutEventSelectors ``EventSelectors``: 1 to 5 selectors, at most 250 data resources."""
    items = _as_list(raw, "EventSelectors")
    if not 1 <= len(items) <= MAX_EVENT_SELECTORS:
        raise _fail(f"A trail has 1 to {MAX_EVENT_SELECTORS} event selectors; {len(items)} given.")
    selectors = tuple(_parse_event_selector(s) for s in items)
    count = sum(len(d.values) for s in selectors for d in s.data_resources)
    if count > MAX_DATA_RESOURCES:
        raise _fail(
            f"A trail has at most {MAX_DATA_RESOURCES} data resources across all event "
            f"selectors; {count} given."
        )
    return selectors


def _parse_field_selector(raw: object) -> FieldSelector:
    d = _as_mapping(raw, "AdvancedFieldSelector")
    _check_keys(d, {"Field", *_OPERATORS}, "AdvancedFieldSelector")
    field = d.get("Field")
    if field not in ADVANCED_FIELDS:
        raise _fail(f"Value {field} for Field is invalid.")
    ops: dict[str, tuple[str, ...]] = {}
    for op in _OPERATORS:
        if op not in d:
            continue
        values = _as_list(d[op], f"{field} {op}")
        if not values:
            raise _fail(f"{op} for field {field} must not be empty.")
        for v in values:
            if not isinstance(v, str) or not 1 <= len(v) <= 2048:
                raise _fail(f"Value {v!r} for {field} {op} is invalid.")
        if field in _EQUALS_ONLY and op != "Equals":
            raise _fail(f"Operator {op} is invalid for field {field}: use Equals.")
        allowed = _ENUMERATED.get(field)
        if allowed is not None:
            for v in values:
                if v not in allowed:
                    raise _fail(f"Value {v} for {field} is invalid.")
        ops[op] = tuple(values)
    if not ops:
        raise _fail(f"Field selector for {field} has no operator.")
    if field in _EQUALS_ONLY and len(ops["Equals"]) != 1:
        raise _fail(f"Field {field} takes exactly one Equals value.")
    value = ops.get("Equals", ("",))[0]
    if field == "eventCategory" and value not in EVENT_CATEGORIES:
        raise _fail(f"Value {value} for eventCategory is invalid.")
    if field == "readOnly" and value not in ("true", "false"):
        raise _fail(f"Value {value} for readOnly is invalid.")
    if field == "resources.type" and value not in ADVANCED_DATA_RESOURCE_TYPES:
        raise _fail(f"Value {value} for resources.type is invalid.")
    return FieldSelector(
        field,
        equals=ops.get("Equals", ()),
        starts_with=ops.get("StartsWith", ()),
        ends_with=ops.get("EndsWith", ()),
        not_equals=ops.get("NotEquals", ()),
        not_starts_with=ops.get("NotStartsWith", ()),
        not_ends_with=ops.get("NotEndsWith", ()),
    )


def _parse_advanced_selector(raw: object) -> AdvancedEventSelector:
    d = _as_mapping(raw, "AdvancedEventSelector")
    _check_keys(d, {"Name", "FieldSelectors"}, "AdvancedEventSelector")
    name = d.get("Name")
    if name is not None and (not isinstance(name, str) or len(name) > 1000):
        raise _fail(f"Value {name!r} for Name is invalid.")
    fields = _as_list(d.get("FieldSelectors"), "FieldSelectors")
    if not fields:
        raise _fail("FieldSelectors must not be empty.")
    parsed = tuple(_parse_field_selector(f) for f in fields)
    seen: set[str] = set()
    for f in parsed:
        if f.field in seen:
            raise _fail(f"Field {f.field} appears more than once in one advanced selector.")
        seen.add(f.field)
    if "eventCategory" not in seen:
        raise _fail("Each advanced event selector needs an eventCategory field selector.")
    selector = AdvancedEventSelector(parsed, name)
    has_resources = bool(seen & {"resources.type", "resources.ARN"})
    if selector.category == "Management" and has_resources:
        raise _fail("Management event selectors cannot filter on resources.type or ARN.")
    if selector.category == "Data" and "resources.type" not in seen:
        raise _fail("Data event selectors need a resources.type field selector.")
    valid = CATEGORY_FIELDS[selector.category]
    for f in parsed:
        if f.field not in valid:
            raise _fail(
                f"Field {f.field} is invalid for eventCategory {selector.category} on a trail."
            )
    if selector.category == "NetworkActivity":
        # AWS's "Logging network activity events": eventSource is required, "can only
        # use the Equals operator", and each event source takes a selector of its own.
        source = selector.field("eventSource")
        if source is None:
            raise _fail("Network activity event selectors need an eventSource field selector.")
        if source.value_count() != len(source.equals) or len(source.equals) != 1:
            raise _fail(
                "Network activity event selectors take one eventSource with the Equals "
                "operator; log several event sources with one selector each."
            )
    return selector


def parse_advanced_event_selectors(raw: object) -> tuple[AdvancedEventSelector, ...]:
    items = _as_list(raw, "AdvancedEventSelectors")
    if not items:
        raise _fail("AdvancedEventSelectors must not be empty.")
    selectors = tuple(_parse_advanced_selector(s) for s in items)
    count = sum(f.value_count() for s in selectors for f in s.field_selectors)
    if count > MAX_ADVANCED_VALUES:
        raise _fail(
            f"Advanced event selectors have at most {MAX_ADVANCED_VALUES} values in all; "
            f"{count} given."
        )
    return selectors


def parse_selectors(
    event_selectors: object, advanced_event_selectors: object
) -> tuple[tuple[EventSelector, ...], tuple[AdvancedEventSelector, ...]]:
    """Both lists of a PutEventSelectors request or a stored trail; an absent or empty
    list means "not given"; both given is refused, as CloudTrail does."""
    basic_given = event_selectors not in (None, [])
    advanced_given = advanced_event_selectors not in (None, [])
    if basic_given and advanced_given:
        raise _fail("A trail uses EventSelectors or AdvancedEventSelectors, not both.")
    basic = parse_event_selectors(event_selectors) if basic_given else ()
    advanced = parse_advanced_event_selectors(advanced_event_selectors) if advanced_given else ()
    return basic, advanced


def selectors_to_api(
    basic: Sequence[EventSelector], advanced: Sequence[AdvancedEventSelector]
) -> dict[str, Any]:
    if advanced:
        return {"AdvancedEventSelectors": [s.to_api() for s in advanced]}
    return {"EventSelectors": [s.to_api() for s in basic or DEFAULT_EVENT_SELECTORS]}
