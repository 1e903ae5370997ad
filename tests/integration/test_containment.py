"""Issue 11 acceptance on the real broker + S3 server: one tenant's broken destination
never delays another's, parked events are delivered exactly once and in order after a
repair, and a destination broken past its parking period ends in the dead-letter topic.

S3 calls go through ``loadtest.faultproxy`` (a real HTTP proxy in front of moto): it
answers 503 SlowDown for one bucket, and stands in for two checks moto does not make
(see ``break_kms`` and ``break_policy``).
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from aiokafka import TopicPartition

from loadtest.faultproxy import FaultProxy
from recorder.delivery.parking import ParkedFile
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
    wait_until_async,
)

pytestmark = pytest.mark.integration

CUT = 2.0
MOTO = "123456789012"  # the account moto's own keys belong to


def dest(i: int) -> Destination:
    account = f"{310000000000 + i}"
    return Destination(f"arn:aws:cloudtrail:us-east-1:{account}:trail/t{i}", account, "us-east-1")


def record(d: Destination) -> tuple[bytes, list[tuple[str, bytes]], str]:
    event_id = str(uuid.uuid4())
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    body = {
        "eventVersion": "1.08",
        "userIdentity": {"type": "IAMUser", "accountId": d.account_id},
        "eventTime": now,
        "eventSource": "ec2.amazonaws.com",
        "eventName": "DescribeInstances",
        "awsRegion": d.region,
        "eventID": event_id,
        "recipientAccountId": d.account_id,
    }
    headers = [("eventTime", now.encode()), ("eventID", event_id.encode())]
    return orjson.dumps(body), headers, event_id


class Bucket:
    """What one bucket holds: each log file read once, and when each event was first
    delivered: its first file's ``LastModified`` (epoch seconds), the time S3 took the
    put, as a latency check of a load harness would take it (not when this poll, which
    shares a loaded machine with the writer, got round to reading it)."""

    def __init__(self, stack: LocalStack, name: str) -> None:
        self.s3 = aws(stack, "s3")
        self.name = name
        self.files: dict[str, list[str]] = {}
        self.first_seen: dict[str, float] = {}

    def poll(self) -> None:
        try:
            pages = list(self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.name))
        except self.s3.exceptions.NoSuchBucket:
            return
        for page in pages:
            for obj in page.get("Contents", []):
                key = obj["Key"]
                if key in self.files:
                    continue
                body = self.s3.get_object(Bucket=self.name, Key=key)["Body"].read()
                ids = [r["eventID"] for r in json.loads(gzip.decompress(body))["Records"]]
                self.files[key] = ids
                delivered = obj["LastModified"].timestamp()
                for event_id in ids:
                    first = self.first_seen.get(event_id)
                    self.first_seen[event_id] = (
                        delivered if first is None else min(first, delivered)
                    )

    def events(self) -> Counter[str]:
        return Counter(e for ids in self.files.values() for e in ids)


async def start_proxy(stack: LocalStack) -> tuple[FaultProxy, Any, str]:
    proxy = FaultProxy(stack.aws_endpoint_url, methods=frozenset({"PUT", "POST"}))
    port = free_port()
    runner = await proxy.start("127.0.0.1", port)
    return proxy, runner, f"http://127.0.0.1:{port}"


async def run(writer: Writer) -> AsyncIterator[asyncio.Task[None]]:
    stop = asyncio.Event()
    task = asyncio.create_task(writer.run(stop))
    await asyncio.wait_for(writer.ready.wait(), 60)
    try:
        yield task
    finally:
        stop.set()
        await asyncio.gather(task, return_exceptions=True)


def metric(writer: Writer, name: str, **labels: str) -> float:
    return writer.metrics.registry.get_sample_value(name, labels or None) or 0.0


async def test_five_broken_destinations_never_delay_five_healthy_ones(stack: LocalStack) -> None:
    s3, kms, sns, sqs = aws(stack, "s3"), aws(stack, "kms"), aws(stack, "sns"), aws(stack, "sqs")
    proxy, runner, proxy_url = await start_proxy(stack)
    dests = [dest(i) for i in range(10)]
    buckets = [f"containment-{i}" for i in range(10)]
    for b in buckets:
        cloudtrail_bucket(s3, b)
    key = kms.create_key(
        Description="trail 7", Policy=cloudtrail_key_policy(MOTO, [dests[7].account_id])
    )["KeyMetadata"]
    key_arn, key_id = key["Arn"], key["KeyId"]
    topic = cloudtrail_topic(sns, "trail-8-notices")
    targets = {d.trail_arn: DeliveryTarget(bucket=b) for d, b in zip(dests, buckets, strict=True)}
    targets[dests[7].trail_arn] = DeliveryTarget(bucket=buckets[7], kms_key_id=key_arn)
    targets[dests[8].trail_arn] = DeliveryTarget(bucket=buckets[8], sns_topic_arn=topic)
    healthy = [0, 1, 2, 3, 4, 8]  # 8's notices fail, never its files
    broken = [5, 6, 7, 9]

    # The five ways to break a destination.
    s3.delete_bucket(Bucket=buckets[5])  # NoSuchBucket
    deny = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": f"arn:aws:s3:::{buckets[6]}/*",
            }
        ],
    }
    s3.put_bucket_policy(Bucket=buckets[6], Policy=json.dumps(deny))  # no grant left
    try:  # moto enforces a Deny policy on its own callers: expect a refusal
        s3.put_object(Bucket=buckets[6], Key="probe", Body=b"x")
        policy_enforced = False
    except s3.exceptions.ClientError:
        policy_enforced = True
    if not policy_enforced:  # then answer as S3 does for a denied PutObject
        proxy.bucket_faults[buckets[6]] = (403, "AccessDenied")
    print(f"moto enforces the Deny bucket policy: {policy_enforced}")
    kms.disable_key(KeyId=key_id)
    # moto's S3 ignores the key's state on PutObject; S3 refuses it (KMS.DisabledException)
    proxy.bucket_faults[buckets[7]] = (400, "KMS.DisabledException")
    sns.delete_topic(TopicArn=topic)  # NotFound on Publish
    proxy.bucket_faults[buckets[9]] = (503, "SlowDown")

    settings = stack.settings(
        aws_endpoint_url=proxy_url,
        cut_interval=CUT,
        metrics_port=free_port(),
        park_retry_base=1.0,
        park_retry_max=3.0,
        aws_max_attempts=2,
    )
    writer = Writer(settings, targets.get)
    seen = [Bucket(stack, b) for b in buckets]
    sent: dict[int, list[tuple[str, float]]] = {i: [] for i in range(10)}
    producer = clients.producer(stack.settings())
    await producer.start()
    gen = run(writer)
    task = await gen.__anext__()
    try:
        # steady traffic: 2 events/s per trail for 20 s, S3 watched meanwhile
        for _ in range(40):
            for i, d in enumerate(dests):
                value, headers, event_id = record(d)
                await producer.send("routed", value, key=d.key(), headers=headers)
                sent[i].append((event_id, time.time()))  # wall clock, as LastModified
            await producer.flush()
            await asyncio.to_thread(lambda: [seen[i].poll() for i in healthy])
            await let_time_pass_async(0.5, "2 events/s per trail")
        await wait_until_async(
            lambda: all(
                (seen[i].poll(), set(seen[i].first_seen) >= {e for e, _ in sent[i]})[1]
                for i in healthy
            ),
            CUT + 30,
            message="the healthy trails' events",
            task=task,
        )
        for i in healthy:
            late = [
                seen[i].first_seen[e] - t
                for e, t in sent[i]
                if seen[i].first_seen[e] - t > CUT + 10
            ]
            assert late == [], f"trail {i}: {len(late)} events later than cut interval + 10 s"
            # LastModified has whole seconds: no file is older than what it holds
            assert all(seen[i].first_seen[e] >= t - 1.0 for e, t in sent[i])
            assert set(seen[i].events().values()) == {1}
        for i in [*broken, 8]:
            status = writer.status[dests[i].trail_arn]
            if i == 8:
                assert status.latest_notification_error == "NotFound"
                assert status.latest_delivery_error is None
            else:
                assert status.latest_delivery_error is not None, i
        assert writer.status[dests[5].trail_arn].latest_delivery_error == "NoSuchBucket"
        assert writer.status[dests[6].trail_arn].latest_delivery_error == (
            "AccessDenied: the bucket policy does not grant cloudtrail.amazonaws.com "
            f"s3:GetBucketAcl on arn:aws:s3:::{buckets[6]}"
        )
        assert writer.status[dests[7].trail_arn].latest_delivery_error == "KMS.DisabledException"
        assert writer.status[dests[9].trail_arn].latest_delivery_error == "SlowDown"
        assert metric(writer, "recorder_writer_parked_destinations") >= len(broken) + 1
        assert metric(writer, "recorder_writer_parked_events") > 0
        assert metric(writer, "recorder_writer_oldest_parked_age_seconds") > 0
        assert metric(writer, "recorder_writer_retry_attempts_total", kind="file", outcome="failed")

        # Repair all five.
        cloudtrail_bucket(s3, buckets[5])
        cloudtrail_bucket(s3, buckets[6])  # the guide's policy instead of the Deny
        proxy.bucket_faults.pop(buckets[6], None)
        kms.enable_key(KeyId=key_id)
        proxy.bucket_faults.pop(buckets[7], None)
        topic_again = cloudtrail_topic(sns, "trail-8-notices")
        assert topic_again == topic
        queue_url = sqs.create_queue(QueueName="trail-8-notices")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        sns.subscribe(
            TopicArn=topic,
            Protocol="sqs",
            Endpoint=queue_arn,
            Attributes={"RawMessageDelivery": "true"},
        )
        proxy.bucket_faults.pop(buckets[9], None)

        def all_delivered() -> bool:
            for i in broken:
                seen[i].poll()
            return all(set(seen[i].events()) >= {e for e, _ in sent[i]} for i in broken)

        await wait_until_async(
            all_delivered, 90, message="the parked events after the repair", task=task
        )
        await wait_until_async(
            lambda: metric(writer, "recorder_writer_parked_destinations") == 0,
            30,
            message="no parked destination",
            task=task,
        )
        for i in broken:
            counts = seen[i].events()
            assert set(counts) == {e for e, _ in sent[i]}
            assert set(counts.values()) == {1}, f"trail {i}: an event delivered twice"
            status = writer.status[dests[i].trail_arn]
            assert status.latest_delivery_error is None and status.latest_delivery_time
        # In order: the files, in the order the writer delivered them (manifests on
        # `delivered`), hold each broken trail's events in the order they were sent.
        manifests = await read_topic(stack, "delivered")
        for i in broken:
            keys = [m["key"] for m in manifests if m["trailARN"] == dests[i].trail_arn]
            ordered = [e for k in dict.fromkeys(keys) for e in seen[i].files[k]]
            assert ordered == [e for e, _ in sent[i]], f"trail {i}: out of order"
        # Trail 8: every file's notice published once, after the topic came back.
        seen[8].poll()
        notices: list[str] = []
        while True:
            got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=2)
            if not got.get("Messages"):
                break
            for m in got["Messages"]:
                notices += json.loads(m["Body"])["s3ObjectKey"]
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
        assert sorted(notices) == sorted(seen[8].files)
        assert writer.status[dests[8].trail_arn].latest_notification_error is None
    finally:
        await producer.stop()
        await gen.aclose()
        await runner.cleanup()
        await proxy.close()


async def read_topic(stack: LocalStack, topic: str) -> list[dict[str, Any]]:
    consumer = clients.consumer(stack.settings(), topic, group_id=None)
    await consumer.start()
    out: list[dict[str, Any]] = []
    try:
        while batch := await consumer.getmany(timeout_ms=1500):
            for tp in sorted(batch, key=lambda tp: tp.partition):
                out += [orjson.loads(m.value) for m in batch[tp]]
    finally:
        await consumer.stop()
    return out


async def test_destination_broken_past_its_parking_period_is_dead_lettered(
    stack: LocalStack,
) -> None:
    s3 = aws(stack, "s3")
    cloudtrail_bucket(s3, "expiry-healthy")
    gone, ok = dest(20), dest(21)
    targets = {
        gone.trail_arn: DeliveryTarget(bucket="expiry-never-created"),
        ok.trail_arn: DeliveryTarget(bucket="expiry-healthy"),
    }
    settings = stack.settings(
        cut_interval=1.0,
        metrics_port=free_port(),
        park_retry_base=0.5,
        park_retry_max=1.0,
        parking_period=4.0,
    )
    writer = Writer(settings, targets.get)
    producer = clients.producer(stack.settings())
    await producer.start()
    sent: dict[Destination, list[str]] = {gone: [], ok: []}
    healthy = Bucket(stack, "expiry-healthy")
    gen = run(writer)
    task = await gen.__anext__()
    try:
        for _ in range(5):
            for d in (gone, ok):
                value, headers, event_id = record(d)
                await producer.send_and_wait("routed", value, key=d.key(), headers=headers)
                sent[d].append(event_id)
            await let_time_pass_async(0.3, "the events span more than one cut interval")

        async def dead() -> list[dict[str, Any]]:
            # this test's letters: the module's earlier tests share the topic (and may
            # have dead-lettered parked notices, another record form)
            ours = (gone.trail_arn + "|", ok.trail_arn + "|")
            letters = await read_topic(stack, "api-events-dlq")
            return [
                x
                for x in letters
                if x["source"]["topic"] == "routed-retry" and x["key"].startswith(ours)
            ]

        async def all_dead_lettered() -> tuple[list[dict[str, Any]], list[ParkedFile]] | None:
            letters = await dead()
            parked = [
                ParkedFile.from_record(x["key"].encode(), base64.b64decode(x["valueBase64"]))
                for x in letters
            ]
            if sorted(e for p in parked for e in (r.event_id for r in p.records)) == sorted(
                sent[gone]
            ):
                return letters, parked
            return None

        letters, parked = await wait_until_async(
            all_dead_lettered,
            60,
            interval=1,
            message="the parked events in the dead-letter topic",
            task=task,
        )
        assert all(x["stage"] == "writer" for x in letters)
        assert all(
            "NoSuchBucket" in x["reason"] and "parking period" in x["reason"] for x in letters
        )
        assert all(p.destination == gone for p in parked)
        assert metric(
            writer, "recorder_dlq_records_total", stage="writer", reason="parking-expired"
        ) == len(letters)
        await wait_until_async(
            lambda: (healthy.poll(), set(healthy.events()) == set(sent[ok]))[1],
            30,
            message="the healthy trail's events",
            task=task,
        )
        await wait_until_async(
            lambda: metric(writer, "recorder_writer_parked_events") == 0,
            10,
            message="nothing parked",
            task=task,
        )
    finally:
        await producer.stop()
        await gen.aclose()


async def committed_at_end(stack: LocalStack) -> bool:
    """The writer group's committed offsets on `routed` are at the log end: nothing
    pins a partition."""
    consumer = clients.consumer(stack.settings(), group_id="recorder-writer")
    await consumer.start()
    try:
        tps = [TopicPartition("routed", p) for p in range(stack.partitions)]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        committed = {tp: (await consumer.committed(tp)) or 0 for tp in tps}
        return all(committed[tp] >= ends[tp] for tp in tps)
    finally:
        await consumer.stop()


async def test_deleted_trail_goes_to_its_last_known_bucket_and_an_unknown_one_is_parked(
    stack: LocalStack,
) -> None:
    s3 = aws(stack, "s3")
    cloudtrail_bucket(s3, "deleted-trail-logs")
    deleted, unknown = dest(30), dest(31)
    targets = {deleted.trail_arn: DeliveryTarget(bucket="deleted-trail-logs")}
    settings = stack.settings(
        cut_interval=1.0,
        metrics_port=free_port(),
        park_retry_base=0.5,
        park_retry_max=1.0,
        parking_period=3.0,
    )
    writer = Writer(settings, targets.get)
    bucket = Bucket(stack, "deleted-trail-logs")
    producer = clients.producer(stack.settings())
    await producer.start()
    sent: list[str] = []
    gen = run(writer)
    task = await gen.__anext__()
    try:

        async def send(d: Destination, n: int) -> list[str]:
            ids = []
            for _ in range(n):
                value, headers, event_id = record(d)
                await producer.send_and_wait("routed", value, key=d.key(), headers=headers)
                ids.append(event_id)
            return ids

        sent += await send(deleted, 3)
        await wait_until_async(
            lambda: (bucket.poll(), set(bucket.events()) == set(sent))[1],
            30,
            message="first files",
            task=task,
        )
        del targets[deleted.trail_arn]  # DeleteTrail, with events routed before it in flight
        sent += await send(deleted, 3)
        lost = await send(unknown, 2)
        await wait_until_async(
            lambda: (bucket.poll(), set(bucket.events()) == set(sent))[1],
            30,
            message="in-flight events of the deleted trail",
            task=task,
        )
        assert set(bucket.events().values()) == {1}

        async def unknown_dead_lettered() -> list[dict[str, Any]] | None:
            letters = [
                x
                for x in await read_topic(stack, "api-events-dlq")
                if x["source"]["topic"] == "routed-retry" and x["key"] == unknown.key().decode()
            ]
            ids = [
                r.event_id
                for x in letters
                for r in ParkedFile.from_record(
                    x["key"].encode(), base64.b64decode(x["valueBase64"])
                ).records
            ]
            return letters if sorted(ids) == sorted(lost) else None

        letters = await wait_until_async(
            unknown_dead_lettered,
            60,
            interval=1,
            message="the unknown trail's events dead-lettered",
        )
        assert all("TrailNotFound" in x["reason"] for x in letters)

        async def at_end() -> bool:
            return await committed_at_end(stack)

        await wait_until_async(
            at_end, 30, interval=1, message="every partition's committed offset at its end"
        )
    finally:
        await producer.stop()
        await gen.aclose()


async def test_past_the_buffer_budget_the_writer_cuts_early_and_pauses(stack: LocalStack) -> None:
    """Cut interval 300 s, 1 MiB budget, 3 MiB of records: the writer cuts for the
    budget instead of holding everything for five minutes."""
    s3 = aws(stack, "s3")
    cloudtrail_bucket(s3, "budget-logs")
    dests = [dest(40 + i) for i in range(3)]
    targets = {d.trail_arn: DeliveryTarget(bucket="budget-logs") for d in dests}
    settings = stack.settings(
        cut_interval=300.0, metrics_port=free_port(), writer_buffer_bytes=1024 * 1024
    )
    writer = Writer(settings, targets.get)
    bucket = Bucket(stack, "budget-logs")
    producer = clients.producer(stack.settings())
    await producer.start()
    sent: list[str] = []
    pad = "x" * 4000
    gen = run(writer)
    task = await gen.__anext__()
    try:
        for _ in range(256):
            for d in dests:
                value, headers, event_id = record(d)
                value = value[:-1] + b',"additionalEventData":{"pad":"' + pad.encode() + b'"}}'
                await producer.send("routed", value, key=d.key(), headers=headers)
                sent.append(event_id)
        await producer.flush()
        # What stays under the budget (1 MiB, about 250 of these records) may wait
        # for the cut interval; everything above it is cut and delivered now.
        await wait_until_async(
            lambda: (bucket.poll(), len(bucket.events()) >= len(sent) - 300)[1],
            120,
            message="all but the budget's worth, long before the cut interval",
            task=task,
        )
        # The budget is checked after each poll, so one poll may take the buffer past
        # it until the cut it triggers is delivered (seen on a loaded machine: 1.01 MiB
        # at the moment of the check); what holds is that the writer brings it back.
        await wait_until_async(
            lambda: metric(writer, "recorder_writer_buffered_bytes") <= 1024 * 1024,
            60,
            message="the buffer back under the 1 MiB budget",
            task=task,
        )
        assert metric(writer, "recorder_writer_pauses_total") > 0
    finally:
        await producer.stop()
        await gen.aclose()  # SIGTERM-like stop: the rest is cut and delivered
    bucket.poll()
    assert set(bucket.events()) == set(sent)
    assert set(bucket.events().values()) == {1}
    manifests = [m for m in await read_topic(stack, "delivered") if m["bucket"] == "budget-logs"]
    reasons = Counter(m["cutReason"] for m in manifests)
    assert reasons["budget"] > 0 and set(reasons) <= {"budget", "shutdown"}


async def test_notice_goes_to_a_topic_in_another_region(stack: LocalStack) -> None:
    import boto3

    def client(service: str, region: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=stack.aws_endpoint_url,
            region_name=region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    cloudtrail_bucket(aws(stack, "s3"), "region-notice-logs")
    sns, sqs = client("sns", "eu-west-1"), client("sqs", "eu-west-1")
    topic = cloudtrail_topic(sns, "eu-notices")
    assert ":eu-west-1:" in topic
    queue_url = sqs.create_queue(QueueName="eu-notices")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    d = dest(50)
    targets = {d.trail_arn: DeliveryTarget(bucket="region-notice-logs", sns_topic_arn=topic)}
    writer = Writer(stack.settings(cut_interval=1.0, metrics_port=free_port()), targets.get)
    bucket = Bucket(stack, "region-notice-logs")
    producer = clients.producer(stack.settings())
    await producer.start()
    gen = run(writer)
    task = await gen.__anext__()
    try:
        value, headers, _ = record(d)
        await producer.send_and_wait("routed", value, key=d.key(), headers=headers)
        await wait_until_async(
            lambda: (bucket.poll(), bucket.files)[1], 30, message="the log file", task=task
        )
        (key,) = bucket.files
        notices: list[Any] = []
        deadline = time.monotonic() + 60
        while not notices and time.monotonic() < deadline:
            got = await asyncio.to_thread(
                sqs.receive_message, QueueUrl=queue_url, WaitTimeSeconds=2, MaxNumberOfMessages=10
            )
            notices += [json.loads(m["Body"]) for m in got.get("Messages", [])]
        assert notices == [{"s3Bucket": "region-notice-logs", "s3ObjectKey": [key]}]
        assert writer.status[d.trail_arn].latest_notification_error is None
    finally:
        await producer.stop()
        await gen.aclose()


async def test_ready_turns_false_while_a_delivery_makes_no_progress(stack: LocalStack) -> None:
    """Every S3 put hangs 8 s at the proxy; with a 1 s stall time-out the writer says it
    is not ready meanwhile (what /readyz reports), and ready again once it delivers."""
    cloudtrail_bucket(aws(stack, "s3"), "stall-logs")
    proxy = FaultProxy(stack.aws_endpoint_url, slow_rate=1.0, slow_seconds=8.0, seed=1)
    port = free_port()
    runner = await proxy.start("127.0.0.1", port)
    d = dest(60)
    settings = stack.settings(
        aws_endpoint_url=f"http://127.0.0.1:{port}",
        cut_interval=1.0,
        metrics_port=free_port(),
        stall_timeout=1.0,
    )
    writer = Writer(settings, {d.trail_arn: DeliveryTarget(bucket="stall-logs")}.get)
    bucket = Bucket(stack, "stall-logs")
    producer = clients.producer(stack.settings())
    await producer.start()
    gen = run(writer)
    task = await gen.__anext__()
    try:
        value, headers, event_id = record(d)
        await producer.send_and_wait("routed", value, key=d.key(), headers=headers)
        await wait_until_async(
            lambda: not writer.ready.is_set(), 30, message="ready to turn false", task=task
        )
        await wait_until_async(
            lambda: (bucket.poll(), bucket.files)[1], 60, message="the log file", task=task
        )
        await wait_until_async(writer.ready.is_set, 10, message="ready again", task=task)
        assert list(bucket.events()) == [event_id]
    finally:
        await producer.stop()
        await gen.aclose()
        await runner.cleanup()
        await proxy.close()
