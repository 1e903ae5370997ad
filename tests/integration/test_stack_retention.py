"""The embedded broker's retention (recorder.stack.retention) on the real noida-db.

noida-db saves everything it holds every couple of seconds, so the local stack deletes
the transit topics' records that every consumer group has read. What must hold: a
record goes only after the topic's own stage and every other group that reads the
partition committed past it, never a record some group still has to read, and the
local stack runs this with the broker and stops it with the broker.
"""

from __future__ import annotations

import asyncio
import urllib.request
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import OffsetAndMetadata

from recorder.obs.metrics import Metrics
from recorder.stack.local import LocalStack
from recorder.stack.processes import free_port, port_open
from recorder.stack.retention import Retention
from tests.integration.helpers import wait_until

pytestmark = pytest.mark.integration


async def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        await admin.close()


async def fill(bootstrap: str, topic: str, per_partition: int, partitions: int = 2) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        futures = [
            await producer.send(topic, b"event %d" % i, partition=p)
            for p in range(partitions)
            for i in range(per_partition)
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def commit(bootstrap: str, group: str, offsets: dict[TopicPartition, int]) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit({tp: OffsetAndMetadata(o, "") for tp, o in offsets.items()})
    finally:
        await consumer.stop()


async def beginnings(bootstrap: str, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        return dict(await consumer.beginning_offsets(tps))
    finally:
        await consumer.stop()


def test_records_go_only_once_every_group_that_reads_them_committed_past(
    stack: LocalStack,
) -> None:
    topic, own, other = (
        f"ret-{uuid.uuid4().hex[:8]}",
        f"own-{uuid.uuid4()}",
        f"other-{uuid.uuid4()}",
    )
    p0, p1 = TopicPartition(topic, 0), TopicPartition(topic, 1)
    bs = stack.bootstrap_servers

    async def scenario() -> None:
        await create_topic(bs, topic, 2)
        await fill(bs, topic, 100)
        metrics = Metrics()
        retention = Retention(bs, {topic: own}, margin=0.0, metrics=metrics)
        # another group reads partitions 0 and 1; the topic's own stage only partition 0
        await commit(bs, other, {p0: 40, p1: 90})
        await commit(bs, own, {p0: 60})
        assert await retention.pass_once() == {p0: 40}  # the slower group decides
        assert await beginnings(bs, [p0, p1]) == {p0: 40, p1: 0}  # p1: own stage never read
        assert await retention.pass_once() == {}  # nothing moved: nothing deleted again

        await commit(bs, other, {p0: 100, p1: 100})
        await commit(bs, own, {p0: 75, p1: 20})
        assert await retention.pass_once() == {p0: 75, p1: 20}
        assert await beginnings(bs, [p0, p1]) == {p0: 75, p1: 20}
        deleted = metrics.registry.get_sample_value(
            "recorder_retention_deleted_records_total", {"topic": topic}
        )
        assert deleted == 75 + 20
        # every record from the low watermark on is still there to read
        consumer = AIOKafkaConsumer(bootstrap_servers=bs, auto_offset_reset="earliest")
        await consumer.start()
        try:
            consumer.assign([p0])
            await consumer.seek_to_beginning(p0)
            got = await consumer.getmany(p0, timeout_ms=5000)
            assert [m.offset for m in got[p0]][:1] == [75]
            assert got[p0][0].value == b"event 75"
        finally:
            await consumer.stop()

    asyncio.run(scenario())


def test_a_commit_past_the_log_end_deletes_nothing_until_its_group_commits_again(
    stack: LocalStack,
) -> None:
    """What a broker that lost acknowledged records looks like: a commit past the end.
    The records written after it reuse those offsets and have not been read."""
    topic, own = f"ret-{uuid.uuid4().hex[:8]}", f"own-{uuid.uuid4()}"
    p0 = TopicPartition(topic, 0)
    bs = stack.bootstrap_servers

    async def scenario() -> None:
        await create_topic(bs, topic, 1)
        await fill(bs, topic, 100, partitions=1)
        retention = Retention(bs, {topic: own}, margin=0.0)
        await commit(bs, own, {p0: 150})  # past the end (100)
        assert await retention.pass_once() == {}
        await fill(bs, topic, 100, partitions=1)  # the end passes 150: still unread
        assert await retention.pass_once() == {}
        assert await beginnings(bs, [p0]) == {p0: 0}
        await commit(bs, own, {p0: 120})  # the group read on and committed anew
        assert await retention.pass_once() == {p0: 120}

    asyncio.run(scenario())


def test_the_local_stack_runs_retention_beside_noida_and_stops_it_with_the_stack(
    tmp_path: Path,
) -> None:
    s = LocalStack(
        tmp_path / "stack", kafka_port=free_port(), moto_port=free_port(), retention_margin=0.0
    )
    s.start()
    try:
        assert s.retention is not None
        port, bs = s.retention.port, s.bootstrap_servers
        api0 = TopicPartition("api-events", 0)
        asyncio.run(fill(bs, "api-events", 30, partitions=1))
        asyncio.run(commit(bs, "recorder-router", {api0: 25}))
        wait_until(
            lambda: asyncio.run(beginnings(bs, [api0]))[api0] == 25,
            timeout=20,
            message="api-events/0 deleted up to the router's commit",
        )
        page = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
        assert b'recorder_retention_deleted_records_total{topic="api-events"} 25.0' in page
        assert b'recorder_retention_deleted_records_total{topic="routed"} 0.0' in page
    finally:
        s.stop()
    assert s.retention is None and not port_open("127.0.0.1", port)
