"""Properties over generated records: valid ones validate and round-trip exactly; any JSON
object round-trips; damaged bytes give ``EventDecodeError`` and nothing else."""

from __future__ import annotations

import datetime as dt
import string
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from recorder.aws.times import format_seconds
from recorder.events import (
    EventDecodeError,
    InvalidEventError,
    decode,
    decode_typed,
    encode,
    render_record,
    validate_record,
)
from recorder.events.schema import FIELD_ORDER
from tests.unit.events.guide import same

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | text
)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3)
)
json_objects = st.dictionaries(text, json_values, max_size=4)
account_ids = st.from_regex(r"[0-9]{12}", fullmatch=True)
regions = st.sampled_from(
    ["us-east-1", "us-east-2", "eu-west-1", "ap-southeast-2", "us-gov-west-1"]
)
event_times = st.datetimes(
    min_value=dt.datetime(2013, 11, 1),
    max_value=dt.datetime(2099, 12, 31),
    timezones=st.just(dt.UTC),
).map(format_seconds)
optional_text = st.none() | text
names = st.text(string.ascii_letters, min_size=1, max_size=8)


def _unnamed(known: set[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(names.filter(lambda n: n not in known), json_values, max_size=2)


def _with_unnamed(base: st.SearchStrategy[dict[str, Any]], known: set[str]) -> Any:
    return st.tuples(base, _unnamed(known)).map(lambda pair: pair[1] | pair[0])


issuer = st.fixed_dictionaries(
    {},
    optional={
        "type": optional_text,
        "principalId": optional_text,
        "arn": optional_text,
        "accountId": account_ids,
        "userName": optional_text,
    },
)
attributes = st.fixed_dictionaries(
    {}, optional={"mfaAuthenticated": st.sampled_from(["true", "false"]), "creationDate": text}
)
session_context = _with_unnamed(
    st.fixed_dictionaries(
        {},
        optional={
            "sessionIssuer": issuer,
            "webIdFederationData": st.none() | json_objects,
            "attributes": attributes,
        },
    ),
    {"sessionIssuer", "webIdFederationData", "attributes"},
)
identity_fields = {
    "type": optional_text,
    "principalId": optional_text,
    "arn": optional_text,
    "accountId": account_ids,
    "accessKeyId": optional_text,
    "userName": optional_text,
    "sessionContext": session_context,
    "invokedBy": optional_text,
    "identityProvider": optional_text,
}
user_identity = _with_unnamed(
    st.fixed_dictionaries({}, optional=identity_fields), set(identity_fields)
)
resource = st.fixed_dictionaries(
    {}, optional={"ARN": text, "accountId": account_ids, "type": text, "ARNPrefix": text}
)
optional_members = {
    "userAgent": optional_text,
    "errorCode": optional_text,
    "errorMessage": optional_text,
    "requestParameters": st.none() | json_objects,
    "responseElements": st.none() | json_objects,
    "additionalEventData": st.none() | json_objects,
    "requestID": optional_text,
    "readOnly": st.none() | st.booleans(),
    "resources": st.lists(resource, max_size=3),
    "apiVersion": optional_text,
    "managementEvent": st.booleans(),
    "recipientAccountId": account_ids,
    "serviceEventDetails": json_objects,
    "sharedEventID": text,
    "vpcEndpointId": text,
    "eventCategory": st.sampled_from(["Management", "Data"]),
}
api_events = _with_unnamed(
    st.fixed_dictionaries(
        {
            "eventVersion": st.sampled_from(["1.05", "1.06", "1.07", "1.08"]),
            "userIdentity": user_identity,
            "eventTime": event_times,
            "eventSource": names.map(lambda n: f"{n.lower()}.amazonaws.com"),
            "eventName": names,
            "awsRegion": regions,
            "sourceIPAddress": text,
            "eventID": st.uuids().map(str),
            "eventType": st.sampled_from(["AwsApiCall", "AwsServiceEvent", "AwsConsoleSignIn"]),
        },
        optional=optional_members,
    ),
    set(FIELD_ORDER),
).flatmap(lambda r: st.permutations(list(r.items())).map(dict))


@settings(max_examples=300)
@given(api_events)
def test_valid_records_validate_and_round_trip_exactly(record: dict[str, Any]) -> None:
    validate_record(record)
    back = decode(encode(record))
    assert same(back, record)
    assert list(back) == list(render_record(record))
    assert render_record(back) is back


@settings(max_examples=200)
@given(
    st.tuples(
        st.fixed_dictionaries({"eventVersion": text, "eventTime": text, "awsRegion": text}),
        st.dictionaries(text, json_values, max_size=8),
    ).map(lambda pair: pair[1] | pair[0])
)
def test_any_json_object_with_the_three_wire_members_round_trips(record: dict[str, Any]) -> None:
    assert same(decode(encode(record)), record)


def _verdict(record: dict[str, Any], *, typed: bool) -> str | None:
    try:
        validate_record(record, typed=typed)
    except InvalidEventError as exc:
        return str(exc)
    return None


@settings(max_examples=300)
@given(
    st.one_of(
        api_events,
        st.tuples(
            st.fixed_dictionaries({"eventVersion": text, "eventTime": text, "awsRegion": text}),
            st.dictionaries(st.sampled_from(FIELD_ORDER), json_values, max_size=8),
        ).map(lambda pair: pair[1] | pair[0]),
    )
)
def test_typed_validation_of_a_decoded_record_agrees_with_the_full_walk(
    record: dict[str, Any],
) -> None:
    """The router validates decoded records without the type walk when nothing came
    back from ``extra``; it must refuse exactly what the full validation refuses."""
    back, typed = decode_typed(encode(record))
    assert _verdict(back, typed=typed) == _verdict(back, typed=False)


@settings(max_examples=300)
@given(api_events, st.data())
def test_damaged_bytes_raise_event_decode_error_or_decode(
    record: dict[str, Any], data: st.DataObject
) -> None:
    good = encode(record)
    at = data.draw(st.integers(0, len(good) - 1))
    damage = data.draw(st.sampled_from(["flip", "cut", "insert"]), label="damage")
    if damage == "flip":
        bad = good[:at] + bytes([good[at] ^ data.draw(st.integers(1, 255))]) + good[at + 1 :]
    elif damage == "cut":
        bad = good[:at]
    else:
        bad = good[:at] + data.draw(st.binary(min_size=1, max_size=4)) + good[at:]
    try:
        decoded = decode(bad)
    except EventDecodeError as exc:
        assert str(exc)
    else:
        assert isinstance(decoded, dict)
