"""The wire form: framing, every decode error, absent vs null, and lossless overflow."""

from __future__ import annotations

import datetime as dt
import json
from io import BytesIO
from typing import Any

import pytest
from fastavro import parse_schema, schemaless_reader, schemaless_writer
from fastavro.schema import to_parsing_canonical_form

from recorder.events import EventDecodeError, InvalidEventError, decode, encode
from recorder.events.schema import (
    FIELD_ORDER,
    FINGERPRINT,
    PARSED_SCHEMA,
    PUBLISHED,
    SCHEMA_JSON,
)
from tests.unit.events.guide import record_at, same

ROTATE = 12021  # KMS RotateKey: requestParameters and responseElements both null


def _crc64_avro(data: bytes) -> int:
    """The Avro spec's 64-bit Rabin fingerprint, written out from the spec."""
    empty = 0xC15D213AA4D7A795
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (empty & -(fp & 1))
        table.append(fp)
    fp = empty
    for byte in data:
        fp = (fp >> 8) ^ table[(fp ^ byte) & 0xFF]
    return fp


def _datum(data: bytes) -> dict[str, Any]:
    return schemaless_reader(BytesIO(data[10:]), PARSED_SCHEMA, None)


def _frame(datum: dict[str, Any]) -> bytes:
    out = BytesIO(b"\xc3\x01" + FINGERPRINT)
    out.seek(10)
    schemaless_writer(out, PARSED_SCHEMA, datum)
    return out.getvalue()


def _decode_error(data: bytes) -> EventDecodeError:
    with pytest.raises(EventDecodeError) as caught:
        decode(data)
    return caught.value


# --- schema and framing -------------------------------------------------------------


def test_schema_names_every_record_field_of_the_guide_in_log_file_order() -> None:
    assert SCHEMA_JSON["namespace"] == "recorder"
    assert SCHEMA_JSON["name"] == "ApiEvent"
    assert FIELD_ORDER == (
        "eventVersion",
        "userIdentity",
        "eventTime",
        "eventSource",
        "eventName",
        "awsRegion",
        "sourceIPAddress",
        "userAgent",
        "errorCode",
        "errorMessage",
        "requestParameters",
        "responseElements",
        "additionalEventData",
        "requestID",
        "eventID",
        "readOnly",
        "resources",
        "eventType",
        "apiVersion",
        "managementEvent",
        "recipientAccountId",
        "serviceEventDetails",
        "sharedEventID",
        "vpcEndpointId",
        "vpcEndpointAccountId",  # eventVersion 1.09, after vpcEndpointId as AWS writes it
        "insightDetails",
        "eventCategory",
        "tlsDetails",
        "sessionCredentialFromConsole",
    )
    assert SCHEMA_JSON["fields"][-1]["name"] == "extra"


def test_user_identity_names_every_field_of_the_guide() -> None:
    (identity,) = (f for f in SCHEMA_JSON["fields"] if f["name"] == "userIdentity")
    record = identity["type"][1]
    names = [f["name"] for f in record["fields"]]
    assert names == [
        "type",
        "principalId",
        "arn",
        "accountId",
        "accessKeyId",
        "userName",
        "sessionContext",
        "invokedBy",
        "invokedByDelegate",  # eventVersion 1.09+
        "identityProvider",
        "inScopeOf",
        "extra",
    ]
    (context,) = (f["type"][1] for f in record["fields"] if f["name"] == "sessionContext")
    assert [f["name"] for f in context["fields"]] == [
        "sessionIssuer",
        "webIdFederationData",
        "attributes",
        "extra",
    ]


def test_header_is_avro_single_object_encoding() -> None:
    data = encode(record_at(ROTATE))
    canonical = to_parsing_canonical_form(parse_schema(SCHEMA_JSON)).encode()
    assert data[:2] == b"\xc3\x01"
    assert data[2:10] == _crc64_avro(canonical).to_bytes(8, "little") == FINGERPRINT


# --- decode errors --------------------------------------------------------------------


def test_empty_message() -> None:
    error = _decode_error(b"")
    assert error.reason == "empty"
    assert str(error) == "empty message: expected an Avro single-object api-event"


def test_json_instead_of_avro_is_bad_magic() -> None:
    error = _decode_error(json.dumps(record_at(ROTATE)).encode())
    assert error.reason == "bad-magic"
    assert str(error) == (
        "bad magic: expected c3 01 (Avro single-object encoding), got 7b 22 (looks like JSON, not Avro)"
    )


def test_second_magic_byte_wrong() -> None:
    error = _decode_error(b"\xc3\x02" + encode(record_at(ROTATE))[2:])
    assert str(error) == "bad magic: expected c3 01 (Avro single-object encoding), got c3 02"


@pytest.mark.parametrize("size", [1, 2, 9])
def test_truncated_header(size: int) -> None:
    error = _decode_error(encode(record_at(ROTATE))[:size])
    assert error.reason == "truncated"
    assert str(error) == f"truncated header: {size} bytes, the header alone is 10"


def test_unknown_schema_fingerprint() -> None:
    data = b"\xc3\x01" + bytes(range(8)) + encode(record_at(ROTATE))[10:]
    error = _decode_error(data)
    assert error.reason == "unknown-schema"
    known = ", ".join(f"v{p.version} {p.fingerprint.hex()}" for p in PUBLISHED)
    assert str(error) == (
        f"unknown schema fingerprint 0001020304050607: this reader knows recorder.ApiEvent "
        f"{known} (written by a newer producer?)"
    )


def test_truncated_body() -> None:
    data = encode(record_at(ROTATE))
    error = _decode_error(data[:-5])
    assert error.reason == "truncated"
    assert str(error) == f"truncated body: the record ends early ({len(data) - 15} body bytes)"


def test_header_only_is_a_truncated_body() -> None:
    error = _decode_error(encode(record_at(ROTATE))[:10])
    assert str(error) == "truncated body: the record ends early (0 body bytes)"


def test_bad_union_branch_is_a_corrupt_body() -> None:
    data = bytearray(encode(record_at(ROTATE)))
    # body: eventVersion "1.05" (len 4 -> 08, 4 bytes), then userIdentity's union index
    assert data[10:15] == b"\x081.05"
    data[15] = 0x7E  # union index 63: userIdentity has two branches
    error = _decode_error(bytes(data))
    assert error.reason == "corrupt"
    assert str(error).startswith("corrupt body: IndexError")


def test_bytes_after_the_record_are_a_corrupt_body() -> None:
    error = _decode_error(encode(record_at(ROTATE)) + b"\x00\x00")
    assert error.reason == "corrupt"
    assert str(error) == "corrupt body: 2 bytes left after the record"


def test_json_member_that_is_not_json_is_a_corrupt_body() -> None:
    datum = _datum(encode(record_at(ROTATE)))
    datum["serviceEventDetails"] = '{"keyId": '
    error = _decode_error(_frame(datum))
    assert error.reason == "corrupt"
    assert str(error).startswith("corrupt body: serviceEventDetails is not JSON (")


def test_nested_extra_that_is_not_an_object_is_a_corrupt_body() -> None:
    datum = _datum(encode(record_at(ROTATE)))
    datum["userIdentity"]["extra"] = "[1]"
    error = _decode_error(_frame(datum))
    assert str(error) == "corrupt body: userIdentity.extra is not a JSON object"


def test_extra_repeating_a_field_is_a_corrupt_body() -> None:
    datum = _datum(encode(record_at(ROTATE)))
    datum["extra"] = '{"eventTime": "2019-06-02T00:06:09Z"}'
    error = _decode_error(_frame(datum))
    assert str(error) == "corrupt body: eventTime is both a field and in extra"


def test_decode_accepts_any_bytes_like() -> None:
    data = encode(record_at(ROTATE))
    assert decode(memoryview(data)) == decode(bytearray(data)) == record_at(ROTATE)


# --- absent vs present-null ------------------------------------------------------------


def test_json_member_absent_is_avro_null_and_present_null_is_the_text_null() -> None:
    with_null = record_at(ROTATE)
    assert with_null["requestParameters"] is None
    without = {k: v for k, v in with_null.items() if k != "requestParameters"}
    assert _datum(encode(with_null))["requestParameters"] == "null"
    assert _datum(encode(without))["requestParameters"] is None
    assert same(decode(encode(with_null)), with_null)
    assert "requestParameters" not in decode(encode(without))


def test_scalar_present_null_travels_in_extra_and_comes_back_in_place() -> None:
    record = record_at(ROTATE) | {"errorCode": None, "readOnly": None}
    datum = _datum(encode(record))
    assert datum["errorCode"] is None
    assert datum["readOnly"] is None
    assert json.loads(datum["extra"]) == {"readOnly": None, "errorCode": None}
    back = decode(encode(record))
    assert same(back, record)
    assert list(back)[7:10] == ["userAgent", "errorCode", "requestParameters"]
    assert list(back).index("readOnly") == list(back).index("eventID") + 1


def test_nested_present_null_and_empty_objects_round_trip() -> None:
    record = record_at(11315)
    record["userIdentity"]["userName"] = None
    record["userIdentity"]["sessionContext"]["attributes"]["creationDate"] = None
    record["userIdentity"]["sessionContext"]["sessionIssuer"] = None
    record["resources"] = []
    back = decode(encode(record))
    assert same(back, record)
    identity = _datum(encode(record))["userIdentity"]
    assert json.loads(identity["extra"]) == {"userName": None}
    assert json.loads(identity["sessionContext"]["extra"]) == {"sessionIssuer": None}


def test_empty_user_identity_is_not_absent() -> None:
    record = record_at(ROTATE) | {"userIdentity": {}}
    assert _datum(encode(record))["userIdentity"] == {
        "type": None,
        "principalId": None,
        "arn": None,
        "accountId": None,
        "accessKeyId": None,
        "userName": None,
        "sessionContext": None,
        "invokedBy": None,
        "invokedByDelegate": None,
        "identityProvider": None,
        "inScopeOf": None,
        "extra": None,
    }
    assert decode(encode(record))["userIdentity"] == {}


# --- members the schema does not name, and odd types -------------------------------------


def test_unnamed_members_round_trip_at_every_level() -> None:
    record = record_at(ROTATE)
    record["addendum"] = {"reason": "DELIVERY_DELAY", "updatedFields": "x"}
    record["userIdentity"]["onBehalfOf"] = {"userId": "u-1"}
    record["resources"].append({"type": "AWS::S3::Object", "ARNPrefix": "arn:aws:s3:::b/"})
    back = decode(encode(record))
    assert same(back, record)
    assert list(back)[-1] == "addendum"
    datum = _datum(encode(record))
    assert json.loads(datum["extra"]) == {"addendum": record["addendum"]}
    assert datum["resources"][1] == {
        "ARN": None,
        "accountId": None,
        "type": "AWS::S3::Object",
        "extra": '{"ARNPrefix":"arn:aws:s3:::b/"}',
    }


def test_members_of_another_type_round_trip_unchanged() -> None:
    record = record_at(ROTATE) | {"readOnly": "false", "resources": "all", "eventID": 7}
    back = decode(encode(record))
    assert same(back, record)
    assert back["readOnly"] == "false"
    assert back["eventID"] == 7


def test_a_member_called_extra_is_just_a_member() -> None:
    record = record_at(ROTATE) | {"extra": {"a": 1}}
    assert same(decode(encode(record)), record)


# --- encode errors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"eventTime": None}, "eventTime: the wire schema needs a string (got None)"),
        ({"awsRegion": 1}, "awsRegion: the wire schema needs a string (got 1)"),
    ],
)
def test_encode_needs_the_three_members_every_record_has(
    change: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidEventError, match=message.replace("(", r"\(").replace(")", r"\)")):
        encode(record_at(ROTATE) | change)


def test_encode_reports_a_missing_event_version() -> None:
    record = record_at(ROTATE)
    del record["eventVersion"]
    with pytest.raises(InvalidEventError) as caught:
        encode(record)
    assert str(caught.value) == "eventVersion: the wire schema needs a string (absent)"
    assert caught.value.field == "eventVersion"


def test_encode_refuses_values_that_are_not_json() -> None:
    record = record_at(ROTATE) | {
        "requestParameters": {"at": dt.datetime(2019, 6, 2, tzinfo=dt.UTC)}
    }
    with pytest.raises(InvalidEventError) as caught:
        encode(record)
    assert str(caught.value).startswith("requestParameters: not JSON-serialisable: ")
    assert "datetime" in str(caught.value)


def test_encode_names_the_nested_member_that_is_not_json() -> None:
    record = record_at(11315)
    record["userIdentity"]["sessionContext"]["webIdFederationData"] = {1: "x"}
    with pytest.raises(InvalidEventError) as caught:
        encode(record)
    assert caught.value.field == "userIdentity.sessionContext.webIdFederationData"


def test_encode_refuses_a_string_that_is_not_unicode() -> None:
    with pytest.raises(InvalidEventError) as caught:
        encode(record_at(ROTATE) | {"userAgent": "AWS \ud800"})
    assert str(caught.value) == "record: a string is not valid Unicode (surrogates not allowed)"


def test_encode_refuses_a_list() -> None:
    with pytest.raises(InvalidEventError) as caught:
        encode([record_at(ROTATE)])  # type: ignore[arg-type]
    assert str(caught.value) == "record: expected a JSON object, got list"
