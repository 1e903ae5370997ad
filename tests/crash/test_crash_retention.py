"""The crash acceptance again, on a broker that deletes records as soon as every
consumer group has committed past them (recorder.stack.retention with no margin):
after each kill the routers and writers recall their dedupe windows from what is
left, and still every expected delivery arrives exactly once, nothing else."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from loadtest.crash import run
from recorder.stack.local import LocalStack
from recorder.stack.processes import free_port

pytestmark = [pytest.mark.integration, pytest.mark.crash]


@pytest.fixture
def trimmed_stack(tmp_path: Path) -> Iterator[LocalStack]:
    s = LocalStack(
        tmp_path / "stack",
        kafka_port=free_port(),
        moto_port=free_port(),
        partitions=4,
        retention_margin=0.0,
    )
    s.start()
    try:
        yield s
    finally:
        s.stop()


def test_kill_nine_with_read_records_deleted_loses_and_duplicates_nothing(
    trimmed_stack: LocalStack, tmp_path: Path
) -> None:
    report = run(
        trimmed_stack,
        tmp_path,
        events=20_000,
        kills=10,
        seed=13,
        s3_error_rate=0.1,
        timeout=600,
        broker_restart=True,
        broken_destination=True,
    )
    print(report)
    assert report.kills == 10 and report.broker_restarts == 1
    assert report.expected_deliveries > 10_000
    assert report.lost == 0
    assert report.duplicated == 0
    assert report.unexpected == 0
    assert report.delivered_records == report.expected_deliveries
    # the broker did delete: each api-events partition the events went to starts past 0
    used = {p: span for p, span in api_events_spans(trimmed_stack).items() if span[1] > 0}
    assert used and all(begin > 0 for begin, _ in used.values()), used


def api_events_spans(stack: LocalStack) -> dict[int, tuple[int, int]]:
    """Each api-events partition's first and next offset."""

    async def read() -> dict[int, tuple[int, int]]:
        consumer = AIOKafkaConsumer(bootstrap_servers=stack.bootstrap_servers)
        await consumer.start()
        try:
            tps = [TopicPartition("api-events", p) for p in range(stack.partitions)]
            begins = await consumer.beginning_offsets(tps)
            ends = await consumer.end_offsets(tps)
            return {tp.partition: (begins[tp], ends[tp]) for tp in tps}
        finally:
            await consumer.stop()

    return asyncio.run(read())
