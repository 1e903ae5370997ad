"""A committed offset past the log end (what a broker that lost acknowledged records
leaves behind) on the real broker: resume starts at the end the broker reports, so the
records it writes next at those offsets are read, not skipped."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import OffsetAndMetadata

from recorder.kafka import clients
from recorder.kafka.partitions import fetched_log_end, resume
from recorder.stack.local import LocalStack

pytestmark = pytest.mark.integration

TOPIC = "regressed"


async def scenario(stack: LocalStack) -> tuple[int, int, list[bytes]]:
    settings = stack.settings()
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(TOPIC, 1, 1)])
    finally:
        await admin.close()
    tp = TopicPartition(TOPIC, 0)
    producer = clients.producer(settings)
    await producer.start()
    for i in range(100):
        await producer.send_and_wait(TOPIC, b"old-%d" % i, partition=0)
    consumer = clients.consumer(settings, group_id="regression-test")
    await consumer.start()
    try:
        consumer.assign([tp])
        # the group had consumed 131 records of a log the broker now says holds 100
        await consumer.commit({tp: OffsetAndMetadata(131, "")})
        listed_end = await fetched_log_end(settings, tp, 100)
        resumed = (await resume(consumer, [tp], settings))[tp]
        for i in range(5):  # written after the loss, at offsets 100..104
            await producer.send_and_wait(TOPIC, b"new-%d" % i, partition=0)
        values: list[bytes] = []
        for _ in range(30):
            got = await consumer.getmany(tp, timeout_ms=200)
            values += [m.value or b"" for m in got.get(tp, [])]
            if len(values) >= 5:
                break
        return listed_end, resumed.start, values
    finally:
        await consumer.stop()
        await producer.stop()


def test_resume_reads_records_written_after_a_log_regression(stack: LocalStack) -> None:
    listed_end, start, values = asyncio.run(scenario(stack))
    assert listed_end == 100
    assert start == 100
    assert values == [b"new-0", b"new-1", b"new-2", b"new-3", b"new-4"]
