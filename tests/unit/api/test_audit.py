"""The API's records of itself: valid CloudTrail records, encoded for api-events, and a
failing produce never reaches the caller."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Counter

from recorder.api.audit import AuditLog, Outcome, build
from recorder.api.auth import Principal
from recorder.api.protocol import service_model
from recorder.events import decode, validate_record
from recorder.provenance import ProducerKey, ProducerKeys
from recorder.provenance.keys import Producer as KeyHolder
from recorder.provenance.signature import verify
from recorder.settings import Settings

ALICE = Principal("AKIDALICE", "111111111111", "alice")


def outcome(operation: str, **kw: Any) -> Outcome:
    base: dict[str, Any] = {
        "operation": service_model().operation_model(operation),
        "principal": ALICE,
        "region": "us-east-2",
        "request_id": "req-1",
        "params": {},
        "result": None,
        "error_code": None,
        "error_message": None,
        "status": 200,
        "event_time": dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC),
        "source_ip": "10.0.0.1",
        "user_agent": "aws-cli/1.46",
    }
    base.update(kw)
    return Outcome(**base)


def test_write_records_response_elements() -> None:
    arn = "arn:aws:cloudtrail:us-east-2:111111111111:trail/t"
    record = build(
        outcome(
            "CreateTrail",
            params={"Name": "t", "S3BucketName": "b"},
            result={"Name": "t", "TrailARN": arn, "IsLogging": False},
        )
    )
    validate_record(record)
    assert record["eventSource"] == "cloudtrail.amazonaws.com"
    assert record["eventName"] == "CreateTrail"
    assert record["awsRegion"] == "us-east-2"
    assert record["readOnly"] is False
    assert record["requestParameters"] == {"name": "t", "s3BucketName": "b"}
    assert record["responseElements"]["trailARN"] == arn
    assert record["userIdentity"]["accountId"] == "111111111111"
    assert record["userIdentity"]["accessKeyId"] == "AKIDALICE"
    assert record["recipientAccountId"] == "111111111111"
    assert record["requestID"] == "req-1"
    assert record["sourceIPAddress"] == "10.0.0.1"
    assert record["managementEvent"] is True


def test_records_name_the_user_by_the_identity_the_credentials_file_gives() -> None:
    """CloudTrail's userIdentity of an IAM user (guide line 11795): the user's unique ID as
    principalId, the same one the hook's records carry for the key (GetCallerIdentity's
    UserId), not the access key."""
    alice = Principal(
        "AKIAIOSFODNN7EXAMPLE",
        "111122223333",
        arn="arn:aws:iam::111122223333:user/Alice",
        principal_id="AIDAJ45Q7YFFAREXAMPLE",
    )
    record = build(outcome("DescribeTrails", principal=alice, result={"trailList": []}))
    validate_record(record)
    assert record["userIdentity"] == {
        "type": "IAMUser",
        "principalId": "AIDAJ45Q7YFFAREXAMPLE",
        "arn": "arn:aws:iam::111122223333:user/Alice",
        "accountId": "111122223333",
        "accessKeyId": "AKIAIOSFODNN7EXAMPLE",
        "userName": "Alice",
    }
    role = Principal(
        "ASIAIOSFODNN7EXAMPLE",
        "111122223333",
        arn="arn:aws:sts::111122223333:assumed-role/Auditor/alice",
        principal_id="AROAJ45Q7YFFAREXAMPLE:alice",
    )
    identity = build(outcome("DescribeTrails", principal=role))["userIdentity"]
    assert identity["type"] == "AssumedRole"
    assert identity["principalId"] == "AROAJ45Q7YFFAREXAMPLE:alice"
    assert "userName" not in identity


def test_reads_and_failures() -> None:
    read = build(outcome("DescribeTrails", result={"trailList": []}))
    validate_record(read)
    assert read["readOnly"] is True
    assert read["responseElements"] is None
    failed = build(
        outcome(
            "GetTrail",
            params={"Name": "x"},
            error_code="TrailNotFoundException",
            error_message="Unknown trail",
            status=400,
        )
    )
    validate_record(failed)
    assert (failed["errorCode"], failed["errorMessage"]) == (
        "TrailNotFoundException",
        "Unknown trail",
    )


class Producer:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.sent: list[tuple[str, bytes, bytes]] = []

    async def send_and_wait(
        self, topic: str, value: bytes, key: bytes, headers: list[tuple[str, bytes]]
    ) -> None:
        if self.fail:
            raise ConnectionError("broker away")
        self.sent.append((topic, key, value))
        self.headers = headers


@pytest.mark.parametrize("fail", [False, True])
async def test_audit_log_sends_or_counts(fail: bool) -> None:
    counter = Counter("audit_total", "x", ["outcome"], registry=CollectorRegistry())
    producer = Producer(fail)
    api_key = ProducerKey.generate("api-1")
    settings = Settings(producer_key_id="api-1", producer_secret=api_key.secret.decode())
    log = AuditLog(settings, producer, counter)
    log.record(outcome("ListTrails", result={"Trails": []}))
    await log.drain()
    await asyncio.sleep(0)
    if fail:
        assert counter.labels(outcome="send_failed")._value.get() == 1
    else:
        topic, key, value = producer.sent[0]
        assert (topic, key) == ("api-events", b"111111111111")
        assert decode(value)["eventName"] == "ListTrails"
        # signed with the API's producer key, as every record on api-events
        keys = ProducerKeys([(KeyHolder("api", frozenset({"*"})), [api_key], [])])
        assert verify(keys, producer.headers, b"111111111111", value)[1] == "api-1"
        assert counter.labels(outcome="sent")._value.get() == 1
