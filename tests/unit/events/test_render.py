"""Log-file rendering (the eventTime format: tests/unit/aws/test_times.py)."""

from __future__ import annotations

import orjson

from recorder.events import decode, encode, log_file_bytes, render_record
from tests.unit.events.guide import record_at

ROTATE = 12021


def test_a_record_in_order_is_returned_as_is() -> None:
    record = record_at(ROTATE)
    assert render_record(record) is record
    decoded = decode(encode(record))
    assert render_record(decoded) is decoded


def test_out_of_order_members_are_put_in_log_file_order() -> None:
    record = {
        "eventID": "234f004b-EXAMPLE",
        "tlsDetails": {"tlsVersion": "TLSv1.2"},
        "eventTime": "2019-06-02T00:06:08Z",
        "requestParameters": None,
        "eventVersion": "1.05",
        "invokedBy": "AWS Internal",
        "awsRegion": "us-east-2",
    }
    rendered = render_record(record)
    assert list(rendered) == [
        "eventVersion",
        "eventTime",
        "awsRegion",
        "requestParameters",
        "eventID",
        "tlsDetails",
        "invokedBy",
    ]
    assert rendered == record
    assert next(iter(record)) == "eventID"  # the input is left alone


def test_nothing_is_added_or_dropped() -> None:
    record = {"eventVersion": "1.05", "responseElements": None, "eventTime": "2019-06-02T00:06:08Z"}
    assert render_record(record) == {
        "eventVersion": "1.05",
        "eventTime": "2019-06-02T00:06:08Z",
        "responseElements": None,
    }


def test_log_file_bytes_is_compact_records_json() -> None:
    records = [
        {"eventTime": "2019-06-02T00:06:08Z", "eventVersion": "1.05", "awsRegion": "us-east-2"},
        {"eventVersion": "1.05", "eventTime": "2019-06-02T00:06:09Z", "responseElements": None},
    ]
    assert log_file_bytes(records) == (
        b'{"Records":[{"eventVersion":"1.05","eventTime":"2019-06-02T00:06:08Z","awsRegion":"us-east-2"},'
        b'{"eventVersion":"1.05","eventTime":"2019-06-02T00:06:09Z","responseElements":null}]}'
    )


def test_log_file_bytes_of_no_records() -> None:
    assert log_file_bytes([]) == b'{"Records":[]}'


def test_log_file_bytes_takes_any_iterable() -> None:
    body = log_file_bytes(decode(encode(record_at(line))) for line in (ROTATE, 11315))
    assert [r["eventName"] for r in orjson.loads(body)["Records"]] == ["RotateKey", "StartLogging"]


def test_log_file_bytes_equals_joining_rendered_records() -> None:
    # the router renders each record once and the writer joins the bytes (delivery/logfile.py)
    records = [decode(encode(record_at(line))) for line in (ROTATE, 11315, 11362)]
    joined = b'{"Records":[' + b",".join(orjson.dumps(render_record(r)) for r in records) + b"]}"
    assert log_file_bytes(records) == joined
