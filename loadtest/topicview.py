"""What a compacted topic holds once compaction has run: the last record of each key,
keys whose last record is a tombstone left out (harnesses and tests check state topics
such as ``insights-state`` and ``trail-status`` with it)."""

from __future__ import annotations

import asyncio

from aiokafka import TopicPartition

from recorder.kafka import clients
from recorder.kafka.partitions import read_range
from recorder.stack.local import LocalStack


async def live_records_async(stack: LocalStack, topic: str) -> dict[bytes, bytes]:
    settings = stack.settings()
    reader = clients.consumer(settings, group_id=None)
    await reader.start()
    try:
        await reader.topics()  # the cluster's metadata, this topic's partitions with it
        partitions = sorted(reader.partitions_for_topic(topic) or ())
    finally:
        await reader.stop()
    last: dict[bytes, bytes | None] = {}
    for p in partitions:
        async for m in read_range(settings, TopicPartition(topic, p)):
            if m.key is not None:
                last[m.key] = m.value
    return {k: v for k, v in last.items() if v is not None}


def live_records(stack: LocalStack, topic: str) -> dict[bytes, bytes]:
    return asyncio.run(live_records_async(stack, topic))
