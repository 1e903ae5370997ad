"""Issue 4 acceptance on the real broker + S3 server: SSE-KMS, SNS notice shape,
dead letters, and one file per destination per cut interval at steady load."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import uuid
from collections import Counter
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer

from recorder.delivery.target import DeliveryTarget
from recorder.delivery.writer import Writer
from recorder.kafka import clients
from recorder.stack.local import LocalStack
from recorder.stack.processes import free_port
from recorder.trails.destination import Destination
from tests.integration.helpers import (
    aws,
    cloudtrail_bucket,
    cloudtrail_key_policy,
    cloudtrail_topic,
    let_time_pass_async,
    read_log_files,
    wait_until_async,
)

pytestmark = pytest.mark.integration

ACCOUNT = "111122223333"


def record(i: int, account: str = ACCOUNT) -> dict[str, Any]:
    return {
        "eventVersion": "1.05",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLE",
            "arn": f"arn:aws:iam::{account}:user/Alice",
            "accountId": account,
            "userName": "Alice",
        },
        "eventTime": "2026-11-25T06:00:00Z",
        "eventSource": "ec2.amazonaws.com",
        "eventName": "DescribeInstances",
        "awsRegion": "us-east-2",
        "sourceIPAddress": "192.0.2.1",
        "userAgent": "test",
        "requestParameters": None,
        "responseElements": None,
        "requestID": f"req-{i}",
        "eventID": str(uuid.uuid4()),
        "eventType": "AwsApiCall",
        "recipientAccountId": account,
    }


async def produce(
    stack: LocalStack,
    dest: Destination,
    records: list[dict[str, Any]],
    raw: list[bytes] | None = None,
) -> None:
    producer = clients.producer(stack.settings())
    await producer.start()
    try:
        for r in records:
            headers = [("eventTime", r["eventTime"].encode()), ("eventID", r["eventID"].encode())]
            await producer.send_and_wait("routed", orjson.dumps(r), key=dest.key(), headers=headers)
        for value in raw or []:
            await producer.send_and_wait("routed", value, key=dest.key())
    finally:
        await producer.stop()


async def run_writer(
    stack: LocalStack,
    targets: dict[str, DeliveryTarget],
    until: Any,
    within: float = 60,
    **settings: Any,
) -> Writer:
    s = stack.settings(
        cut_interval=settings.pop("cut_interval", 1.0), metrics_port=free_port(), **settings
    )
    writer = Writer(s, targets.get)
    stop = asyncio.Event()
    task = asyncio.create_task(writer.run(stop))
    try:
        await wait_until_async(until, within, message="the writer's delivery", task=task)
    finally:
        stop.set()
        await asyncio.gather(task, return_exceptions=True)
    return writer


def dest(name: str, account: str = ACCOUNT, region: str = "us-east-2") -> Destination:
    return Destination(f"arn:aws:cloudtrail:us-east-2:{account}:trail/{name}", account, region)


async def test_sse_kms_object_and_sns_notice_through_sqs(stack: LocalStack) -> None:
    s3, kms, sns, sqs = aws(stack, "s3"), aws(stack, "kms"), aws(stack, "sns"), aws(stack, "sqs")
    cloudtrail_bucket(s3, "kms-logs")
    key_id = kms.create_key(
        Description="trail key", Policy=cloudtrail_key_policy(ACCOUNT, [ACCOUNT])
    )["KeyMetadata"]["Arn"]
    topic = cloudtrail_topic(sns, "trail-notices")
    queue_url = sqs.create_queue(QueueName="trail-notices")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    d = dest("kms")
    records = [record(i) for i in range(5)]
    await produce(stack, d, records)
    target = DeliveryTarget(bucket="kms-logs", kms_key_id=key_id, sns_topic_arn=topic)
    await run_writer(stack, {d.trail_arn: target}, lambda: read_log_files(stack, "kms-logs"))

    files = read_log_files(stack, "kms-logs")
    (key,) = files
    assert [r["eventID"] for r in files[key]] == [r["eventID"] for r in records]
    head = s3.head_object(Bucket="kms-logs", Key=key)
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == key_id
    msgs = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=5, MaxNumberOfMessages=10)[
        "Messages"
    ]
    assert [json.loads(m["Body"]) for m in msgs] == [{"s3Bucket": "kms-logs", "s3ObjectKey": [key]}]


async def test_sse_s3_by_default_and_dead_letter_for_poison_record(stack: LocalStack) -> None:
    s3 = aws(stack, "s3")
    cloudtrail_bucket(s3, "plain-logs")
    d = dest("plain")
    good = [record(i) for i in range(3)]
    await produce(stack, d, good[:2], raw=[b"\xff\x00 not a record"])
    await produce(stack, d, good[2:])
    await run_writer(
        stack,
        {d.trail_arn: DeliveryTarget(bucket="plain-logs")},
        lambda: sum(len(v) for v in read_log_files(stack, "plain-logs").values()) >= 3,
    )
    files = read_log_files(stack, "plain-logs")
    delivered = [r["eventID"] for recs in files.values() for r in recs]
    assert sorted(delivered) == sorted(r["eventID"] for r in good)
    for key in files:
        assert s3.head_object(Bucket="plain-logs", Key=key)["ServerSideEncryption"] == "AES256"
    dead = await consume_all(stack, "api-events-dlq")
    assert len(dead) == 1
    letter = json.loads(dead[0])
    assert letter["stage"] == "writer"
    assert letter["reason"] == "routed value is not a rendered CloudTrail record"
    assert letter["source"]["topic"] == "routed"


async def consume_all(stack: LocalStack, topic: str) -> list[bytes]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=stack.bootstrap_servers,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    out: list[bytes] = []
    try:
        while batch := await consumer.getmany(timeout_ms=1500):
            # manifests only: no window markers or watermarks (those carry headers)
            out += [m.value for msgs in batch.values() for m in msgs if not m.headers]
    finally:
        await consumer.stop()
    return out


async def test_steady_load_one_file_per_destination_per_interval(stack: LocalStack) -> None:
    """Records trickle in for several intervals; each destination gets exactly one
    file per cut interval (no size bound is reached), never a flood of tiny files."""
    cloudtrail_bucket(aws(stack, "s3"), "steady-logs")
    dests = [dest(f"steady{i}", account=f"{222200000000 + i}") for i in range(3)]
    targets = {d.trail_arn: DeliveryTarget(bucket="steady-logs") for d in dests}
    interval = 3.0
    s = stack.settings(cut_interval=interval, metrics_port=free_port())
    writer = Writer(s, targets.get)
    stop = asyncio.Event()
    task = asyncio.create_task(writer.run(stop))
    await writer.ready.wait()
    sent: Counter[str] = Counter()
    producer = clients.producer(stack.settings())
    await producer.start()
    try:
        # 4 intervals of steady traffic: 10 records/s per destination
        for _ in range(int(4 * interval * 10)):
            for d in dests:
                r = record(0, d.account_id)
                await producer.send(
                    "routed",
                    orjson.dumps(r),
                    key=d.key(),
                    headers=[
                        ("eventTime", b"2026-11-25T06:00:00Z"),
                        ("eventID", r["eventID"].encode()),
                    ],
                )
                sent[d.account_id] += 1
            await let_time_pass_async(0.1, "10 records/s per destination")
        await producer.flush()
    finally:
        await producer.stop()

    def all_delivered() -> bool:
        files = read_log_files(stack, "steady-logs")
        return sum(len(records) for records in files.values()) == sum(sent.values())

    await wait_until_async(all_delivered, interval * 4, message="every record cut", task=task)
    stop.set()
    await asyncio.gather(task, return_exceptions=True)

    files = read_log_files(stack, "steady-logs")
    manifests = [json.loads(m) for m in await consume_all(stack, "delivered")]
    for d in dests:
        assert (
            sum(len(r) for k, r in files.items() if f"/{d.account_id}/" in k) == sent[d.account_id]
        )
        cuts = sorted(
            (m["deliveryTime"], m["cutReason"]) for m in manifests if m["accountId"] == d.account_id
        )
        interval_cuts = [t for t, reason in cuts if reason == "interval"]
        # ~12 s of traffic at a 3 s interval: one file per interval ...
        assert len(interval_cuts) >= 3, cuts
        # ... and never two interval cuts of one destination within one interval
        # (times have 1 s resolution)
        seconds = [dt.datetime.strptime(t, "%Y-%m-%dT%H:%M:%SZ").timestamp() for t in interval_cuts]
        assert all(b - a >= interval - 1 for a, b in itertools.pairwise(seconds)), cuts
        # no size-bound cuts were due, and every file is one of these manifests
        assert {r for _, r in cuts} <= {"interval", "shutdown"}
        assert len(cuts) == sum(1 for k in files if f"/{d.account_id}/" in k)
