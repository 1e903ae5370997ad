"""Batched produce of routed records: one record batch per partition, not one ``send``
per delivery.

``AIOKafkaProducer.send`` costs a coroutine, a partitioner call (aiokafka's murmur2 is
pure Python) and a future per message; for a router that produces several records per
consumed event that was most of its time. Here a consumed batch's routed records are
appended to a ``BatchBuilder`` per partition and handed over with ``send_batch``: the
same records, the same partitions (the default partitioner's murmur2 of the key, looked
up once per destination key), the same transaction when the producer has one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiokafka.partitioner import murmur2

Headers = Sequence[tuple[str, bytes]]

#: Destination keys remembered with their partition; a router sees few distinct ones.
_KEY_CACHE_LIMIT = 100_000


class PartitionOf:
    """aiokafka's default partitioner for keyed records, memoised per key."""

    __slots__ = ("_cache", "count")

    def __init__(self, count: int) -> None:
        self.count = count
        self._cache: dict[bytes, int] = {}

    def __call__(self, key: bytes) -> int:
        partition = self._cache.get(key)
        if partition is None:
            if len(self._cache) >= _KEY_CACHE_LIMIT:
                self._cache.clear()
            partition = (murmur2(key) & 0x7FFFFFFF) % self.count
            self._cache[key] = partition
        return partition


class BatchedSend:
    """The routed records of one consumed batch, grouped by partition.

    ``add`` appends (and submits a partition's batch when it is full); ``flush`` submits
    the rest and returns the futures of every submitted batch, to await or to let the
    transaction's commit wait for.
    """

    def __init__(self, producer: Any, topic: str, partition_of: PartitionOf) -> None:
        self._producer = producer
        self._topic = topic
        self._partition_of = partition_of
        self._open: dict[int, Any] = {}
        self.futures: list[Any] = []
        self.records = 0

    async def add(self, key: bytes, value: bytes, headers: Headers) -> None:
        partition = self._partition_of(key)
        builder = self._open.get(partition)
        if builder is None:
            builder = self._open[partition] = self._producer.create_batch()
        if builder.append(key=key, value=value, timestamp=None, headers=headers) is None:
            await self._submit(partition, builder)
            builder = self._open[partition] = self._producer.create_batch()
            if builder.append(key=key, value=value, timestamp=None, headers=headers) is None:
                raise ValueError(f"a routed record of {len(value)} bytes exceeds the batch size")
        self.records += 1

    async def _submit(self, partition: int, builder: Any) -> None:
        builder.close()
        fut = await self._producer.send_batch(builder, self._topic, partition=partition)
        self.futures.append(fut)

    async def flush(self) -> list[Any]:
        for partition, builder in self._open.items():
            await self._submit(partition, builder)
        self._open.clear()
        return self.futures
