"""The router's quick view of a record is the checked one: ``event_from_record``'s
one-pass path for records as producers write them gives the same Event, or the same
RecordError, as ``_checked_event``, which checks each member in turn, for records
well formed or damaged in any member routing reads."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from recorder.selectors import RecordError, event_from_record
from recorder.selectors.event import _checked_event
from tests.unit.routing.strategies import cloudtrail_record

MEMBERS = (
    "eventSource",
    "eventName",
    "awsRegion",
    "recipientAccountId",
    "readOnly",
    "eventCategory",
    "managementEvent",
    "userIdentity",
    "resources",
    "eventType",
    "errorCode",
    "sessionCredentialFromConsole",
    "vpcEndpointId",
)
ODD = st.sampled_from(
    [None, 1, 0, "", "x", "true", "false", True, False, [], {}, ["x"], [{"type": "t"}], {"arn": 1}]
)
ABSENT = object()


def view(record: Any) -> tuple[str, Any]:
    try:
        return "event", event_from_record(record)
    except RecordError as exc:
        return "error", str(exc)


def checked(record: Any) -> tuple[str, Any]:
    try:
        return "event", _checked_event(record)
    except RecordError as exc:
        return "error", str(exc)


@settings(max_examples=400, deadline=None)
@given(cloudtrail_record(), st.lists(st.tuples(st.sampled_from(MEMBERS), ODD | st.just(ABSENT))))
def test_the_quick_view_is_the_checked_view(
    record: dict[str, Any], damage: list[tuple[str, Any]]
) -> None:
    for member, value in damage:
        if value is ABSENT:
            record.pop(member, None)
        else:
            record[member] = value
    assert view(record) == checked(record)


@settings(max_examples=100, deadline=None)
@given(cloudtrail_record(), st.integers(0, 3), ODD)
def test_damaged_resource_entries_are_refused_alike(
    record: dict[str, Any], at: int, value: Any
) -> None:
    resources = record.setdefault("resources", [])
    resources.insert(min(at, len(resources)), value)
    assert view(record) == checked(record)


def test_a_mapping_that_is_not_a_dict_takes_the_checked_path() -> None:
    record = OrderedDict(
        eventSource="s3.amazonaws.com",
        eventName="GetObject",
        awsRegion="us-east-1",
        recipientAccountId="111122223333",
    )
    event = event_from_record(record)
    assert (event.category, event.read_only) == ("Data", True)
    assert view(record) == checked(record)
    assert view(["not", "a", "record"]) == ("error", "a record is a JSON object")
