"""What a compacted topic holds once compaction has run: the last record of each key,
keys whose last record is a tombstone left out (harnesses and tests check state topics
such as ``insights-state`` and ``trail-status`` with it)."""

from __future__ import annotations

import asyncio

from aiokafka import TopicPartition

from recorder.kafka import clients
from recorder.stack.local import LocalStack


async def live_records_async(stack: LocalStack, topic: str) -> dict[bytes, bytes]:
    settings = stack.settings()
    reader = clients.consumer(settings, group_id=None)
    await reader.start()
    last: dict[bytes, bytes | None] = {}
    try:
        await reader.topics()  # the cluster's metadata, this topic's partitions with it
        tps = [TopicPartition(topic, p) for p in sorted(reader.partitions_for_topic(topic) or ())]
        reader.assign(tps)
        await reader.seek_to_beginning(*tps)
        ends = await reader.end_offsets(tps)
        for tp in tps:
            position = 0
            while position < ends[tp]:
                batch = await reader.getmany(tp, timeout_ms=2000, max_records=5000)
                for m in batch.get(tp, []):
                    position = m.offset + 1
                    if m.key is not None:
                        last[m.key] = m.value
    finally:
        await reader.stop()
    return {k: v for k, v in last.items() if v is not None}


def live_records(stack: LocalStack, topic: str) -> dict[bytes, bytes]:
    return asyncio.run(live_records_async(stack, topic))
