"""The router service on the real broker: routed records, dead letters, repeats.

Run in-process (``Router.run``) against noida-db, in both modes: with transactions
(routed records and consumed offsets commit together) and without. What it checks is
what the writer and an operator rely on: one routed record per delivery, keyed by
destination and on the partition the default partitioner gives that key (the writer's
per-destination order depends on it); bad bytes and invalid records on the dead-letter
topic with their reason; a repeated eventID routed once; offsets committed to the end.
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.partitioner import murmur2

from recorder.events import encode
from recorder.kafka import clients
from recorder.kafka.watermarks import is_watermark
from recorder.obs.metrics import Metrics
from recorder.provenance import sign
from recorder.routing import RoutingEngine
from recorder.routing.service import Router
from recorder.settings import Settings
from recorder.stack.local import LocalStack
from recorder.trails import Trail
from tests.integration.helpers import wait_until_async

pytestmark = pytest.mark.integration

ACCOUNT = "111122223333"


def _record(i: int, **over: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "eventVersion": "1.08",
        "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::{ACCOUNT}:user/a"},
        "eventTime": "2026-11-30T10:00:00Z",
        "eventSource": "ec2.amazonaws.com",
        "eventName": "RunInstances",
        "awsRegion": "eu-west-1",
        "sourceIPAddress": "192.0.2.1",
        "eventID": str(uuid.UUID(int=i)),
        "eventType": "AwsApiCall",
        "recipientAccountId": ACCOUNT,
    }
    record.update(over)
    return record


def _engine() -> RoutingEngine:
    trails = [
        Trail.from_api(
            {
                "Name": name,
                "TrailARN": f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/{name}",
                "HomeRegion": "us-east-1",
                "S3BucketName": f"b-{name}",
                "IsMultiRegionTrail": True,
            }
        )
        for name in ("one", "two")
    ]
    return RoutingEngine.compile(trails, {})


async def _read_to_end(stack: LocalStack, topic: str) -> list[Any]:
    """Every committed record of ``topic`` now (transaction markers skipped), but the
    routers' progress marks (recorder.kafka.watermarks), which carry no event."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=stack.bootstrap_servers,
        group_id=None,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    await consumer.start()
    got: list[Any] = []
    try:
        await consumer.topics()  # metadata, for partitions_for_topic
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        async with asyncio.timeout(60):
            while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
                for msgs in (await consumer.getmany(timeout_ms=500)).values():
                    got.extend(m for m in msgs if not is_watermark(m.headers))
    finally:
        await consumer.stop()
    return got


async def _start_group_at_end(stack: LocalStack, group: str) -> None:
    s = stack.settings()
    tps = [TopicPartition(s.topics.api_events, p) for p in range(stack.partitions)]
    consumer = AIOKafkaConsumer(bootstrap_servers=stack.bootstrap_servers, group_id=group)
    await consumer.start()
    try:
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        await consumer.commit({tp: ends[tp] for tp in tps})
    finally:
        await consumer.stop()


async def _committed_to_end(stack: LocalStack, group: str) -> None:
    s = stack.settings()
    tps = [TopicPartition(s.topics.api_events, p) for p in range(stack.partitions)]
    watcher = AIOKafkaConsumer(bootstrap_servers=stack.bootstrap_servers, group_id=group)
    await watcher.start()
    try:
        ends = await watcher.end_offsets(tps)
        committed: list[int] = []

        async def at_end() -> bool:
            nonlocal committed
            committed = [await watcher.committed(tp) or 0 for tp in tps]
            return all(c >= ends[tp] for c, tp in zip(committed, tps, strict=True))

        try:
            await wait_until_async(at_end, 60, interval=0.2, message="commits at the end")
        except TimeoutError:
            raise AssertionError(
                f"router did not commit to the end: {committed} vs {ends}"
            ) from None
    finally:
        await watcher.stop()


def _signed(s: Settings, value: bytes) -> list[tuple[str, bytes]]:
    """The headers the producer sink adds: signed with the stack's producer key."""
    return sign(s.producer_key(), ACCOUNT.encode(), value)


@pytest.mark.parametrize("transactions", [True, False], ids=["transactions", "at-least-once"])
async def test_router_routes_dead_letters_and_drops_repeats(
    stack: LocalStack, transactions: bool
) -> None:
    s = stack.settings(router_transactions=transactions)
    tag = uuid.uuid4().int % 10**6 * 1000  # eventIDs unique to this run
    good = [_record(tag + i) for i in range(40)]
    repeat = good[3]
    group = f"router-test-{uuid.uuid4()}"
    await _start_group_at_end(stack, group)  # records of earlier tests are not this one's
    producer = clients.producer(s)
    await producer.start()
    try:
        not_avro = b'{"eventVersion": "1.08", "n": %d}' % tag
        invalid = encode(_record(tag + 99, awsRegion="mars-1"))
        for value in (*(encode(r) for r in good), encode(repeat), not_avro, invalid):
            await producer.send_and_wait(
                s.topics.api_events, value, key=ACCOUNT.encode(), headers=_signed(s, value)
            )
    finally:
        await producer.stop()

    metrics = Metrics()
    router = Router(s, _engine, metrics=metrics, group_id=group)
    stop = asyncio.Event()
    task = asyncio.create_task(router.run(stop))
    try:
        await _committed_to_end(stack, group)
    finally:
        stop.set()
        await asyncio.gather(task)
    assert router.transactions is transactions

    ids = {r["eventID"] for r in good}
    routed = [
        m
        for m in await _read_to_end(stack, s.topics.routed)
        if dict(m.headers)["eventID"].decode() in ids
    ]
    assert len(routed) == 80  # 40 events x 2 trails, the repeat routed once
    by_trail: dict[bytes, list[str]] = {}
    for m in routed:
        body = orjson.loads(m.value)
        assert body["eventID"] == dict(m.headers)["eventID"].decode()
        assert m.partition == (murmur2(m.key) & 0x7FFFFFFF) % stack.partitions
        by_trail.setdefault(m.key, []).append(body["eventID"])
    assert len(by_trail) == 2
    for ids in by_trail.values():  # in order, each once
        assert ids == [r["eventID"] for r in good]

    dead = [orjson.loads(m.value) for m in await _read_to_end(stack, s.topics.dlq)]
    sent = {base64.b64encode(v).decode() for v in (not_avro, invalid)}
    reasons = sorted(d["reason"] for d in dead if d["valueBase64"] in sent)
    assert len(reasons) == 2
    assert "awsRegion" in reasons[0]
    assert "bad magic" in reasons[1]
    assert metrics.router_duplicates._value.get() == 1
    assert metrics.router_events_in._value.get() == 43
    assert metrics.router_deliveries_out._value.get() == 80
    assert (
        metrics.router_matches.labels(
            f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/one"
        )._value.get()
        == 40
    )


async def test_rolling_upgrade_routes_both_schema_versions_and_dead_letters_nothing(
    stack: LocalStack,
) -> None:
    """Producers on version 1 (the default until every router is new) and on version 2
    write side by side; the new router delivers every event, with the eventVersion 1.08
    members intact whichever schema carried them."""
    s = stack.settings()
    group = f"router-upgrade-{uuid.uuid4()}"
    await _start_group_at_end(stack, group)
    tag = uuid.uuid4().int % 10**6 * 1000
    tls = {
        "tlsVersion": "TLSv1.3",
        "cipherSuite": "TLS_AES_128_GCM_SHA256",
        "clientProvidedHostHeader": "ec2.eu-west-1.amazonaws.com",
    }
    records = [
        _record(tag + i, tlsDetails=tls, sessionCredentialFromConsole="true") for i in range(20)
    ]
    producer = clients.producer(s)
    await producer.start()
    try:
        for i, r in enumerate(records):
            value = encode(r, 1 + i % 2)
            await producer.send_and_wait(
                s.topics.api_events, value, key=ACCOUNT.encode(), headers=_signed(s, value)
            )
    finally:
        await producer.stop()
    metrics = Metrics()
    router = Router(s, _engine, metrics=metrics, group_id=group)
    stop = asyncio.Event()
    task = asyncio.create_task(router.run(stop))
    try:
        await _committed_to_end(stack, group)
    finally:
        stop.set()
        await asyncio.gather(task)
    ids = {r["eventID"] for r in records}
    routed = [
        orjson.loads(m.value)
        for m in await _read_to_end(stack, s.topics.routed)
        if dict(m.headers)["eventID"].decode() in ids
    ]
    assert len(routed) == 40  # 20 events x 2 trails
    for body in routed:
        assert body["tlsDetails"] == tls
        assert body["sessionCredentialFromConsole"] == "true"
        assert list(body)[-2:] == ["tlsDetails", "sessionCredentialFromConsole"]
    dead = [m for metric in metrics.dlq.collect() for m in metric.samples]
    assert sum(m.value for m in dead if m.name.endswith("_total")) == 0
    assert metrics.router_events_in._value.get() == 20
