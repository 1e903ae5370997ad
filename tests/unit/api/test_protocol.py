"""The JSON 1.1 wire layer: targets, input validation, output shaping, and error bodies
that botocore's own parser turns back into the modelled exception codes."""

from __future__ import annotations

import datetime as dt

import orjson
import pytest
from botocore.parsers import create_parser

from recorder.api.protocol import (
    ApiError,
    decode_input,
    encode_output,
    epoch_seconds,
    error_body,
    parse_target,
    service_model,
)

PREFIX = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101"


def test_parse_target_known_operation() -> None:
    assert parse_target(f"{PREFIX}.CreateTrail").name == "CreateTrail"
    assert parse_target(f" {PREFIX}.GetTrailStatus ").name == "GetTrailStatus"
    # Smithy SDKs (Go v2: Terraform) send the short form
    assert parse_target("CloudTrail_20131101.CreateTrail").name == "CreateTrail"


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "CreateTrail",
        f"{PREFIX}.NoSuchOperation",
        "com.amazonaws.s3.v20060301.CreateTrail",
        f"{PREFIX}CreateTrail",
    ],
)
def test_parse_target_unknown(header: str | None) -> None:
    with pytest.raises(ApiError) as info:
        parse_target(header)
    assert info.value.code == "UnknownOperationException"


def test_decode_input_converts_timestamps_and_drops_unknown_members() -> None:
    op = service_model().operation_model("ListPublicKeys")
    params = decode_input(op, b'{"StartTime": 1441068842.76, "Unknown": 1}')
    assert params == {"StartTime": dt.datetime.fromtimestamp(1441068842.76, dt.UTC)}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "SerializationException"),
        (b"[1, 2]", "SerializationException"),
        (b'{"Name": 5, "S3BucketName": "b"}', "ValidationException"),
        (b'{"Name": "t"}', "ValidationException"),
        (
            b'{"Name": "t", "S3BucketName": "b", "TagsList": [{"Value": "v"}]}',
            "ValidationException",
        ),
    ],
)
def test_decode_input_rejects(body: bytes, code: str) -> None:
    op = service_model().operation_model("CreateTrail")
    with pytest.raises(ApiError) as info:
        decode_input(op, body)
    assert info.value.code == code


def test_validation_message_names_the_problem() -> None:
    op = service_model().operation_model("CreateTrail")
    with pytest.raises(ApiError) as info:
        decode_input(op, b'{"Name": "t"}')
    assert info.value.message.startswith("1 validation error detected: ")
    assert "S3BucketName" in info.value.message


def test_empty_body_is_an_empty_request() -> None:
    assert decode_input(service_model().operation_model("ListTrails"), b"") == {}


def test_encode_output_shapes_by_the_model() -> None:
    op = service_model().operation_model("GetTrailStatus")
    body = encode_output(
        op,
        {
            "IsLogging": True,
            "StartLoggingTime": "2015-09-01T00:54:02Z",
            "StopLoggingTime": None,
            "TimeLoggingStarted": "2015-09-01T00:54:02Z",
            "NotInTheShape": "dropped",
        },
    )
    assert orjson.loads(body) == {
        "IsLogging": True,
        "StartLoggingTime": 1441068842.0,
        "TimeLoggingStarted": "2015-09-01T00:54:02Z",
    }


def test_encode_output_nested_lists_and_structures() -> None:
    op = service_model().operation_model("DescribeTrails")
    body = encode_output(
        op,
        {"trailList": [{"Name": "a", "IsLogging": True, "HomeRegion": "us-east-1"}], "x": 1},
    )
    assert orjson.loads(body) == {"trailList": [{"Name": "a", "HomeRegion": "us-east-1"}]}


def test_encode_output_round_trips_through_botocore_parser() -> None:
    op = service_model().operation_model("ListPublicKeys")
    when = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    body = encode_output(
        op,
        {"PublicKeyList": [{"Value": b"\x01\x02", "ValidityStartTime": when, "Fingerprint": "f"}]},
    )
    parsed = create_parser("json").parse(
        {"status_code": 200, "headers": {}, "body": body}, op.output_shape
    )
    key = parsed["PublicKeyList"][0]
    assert key["Value"] == b"\x01\x02"
    assert key["ValidityStartTime"] == when


@pytest.mark.parametrize(
    ("operation", "code"),
    [
        ("GetTrail", "TrailNotFoundException"),
        ("CreateTrail", "TrailAlreadyExistsException"),
        ("CreateTrail", "InvalidTrailNameException"),
        ("PutEventSelectors", "InvalidEventSelectorsException"),
        ("ListTrails", "UnrecognizedClientException"),
        ("ListTrails", "ValidationException"),
    ],
)
def test_error_body_parses_back_to_the_code(operation: str, code: str) -> None:
    op = service_model().operation_model(operation)
    parsed = create_parser("json").parse(
        {
            "status_code": 400,
            "headers": {"x-amzn-requestid": "r-1"},
            "body": error_body(code, "what happened"),
        },
        op.output_shape,
    )
    assert parsed["Error"] == {"Code": code, "Message": "what happened"}
    if code in {s.name for s in op.error_shapes}:
        assert service_model().shape_for(code).metadata.get("exception")


def test_epoch_seconds_accepts_all_forms() -> None:
    assert epoch_seconds("2015-09-01T00:54:02Z") == 1441068842.0
    assert epoch_seconds(dt.datetime(2015, 9, 1, 0, 54, 2)) == 1441068842.0
    assert epoch_seconds(1441068842.76) == 1441068842.76
    assert epoch_seconds("garbage") is None
    assert epoch_seconds(True) is None
