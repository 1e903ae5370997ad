"""What the writer and the digester share about the partitions they own.

Both keep per-partition state that decides a committable offset; both must commit
before giving a partition up and rebuild state when one is assigned; both read a
range of a partition back at start (the eventID window, the dedupe window).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import OffsetAndMetadata

from recorder.kafka import clients
from recorder.obs.logging import get_logger
from recorder.settings import Settings

log = get_logger("recorder.kafka")


class PartitionOwner(Protocol):
    async def commit(self) -> None: ...

    async def assign(self, partitions: list[TopicPartition]) -> None: ...

    def revoke(self, partitions: list[TopicPartition]) -> None: ...


class OwnerListener(ConsumerRebalanceListener):  # type: ignore[misc]
    """Dynamic membership: commit what is done before a partition moves away."""

    def __init__(self, owner: PartitionOwner) -> None:
        self.owner = owner

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self.owner.commit()
        self.owner.revoke(list(revoked))

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        await self.owner.assign(list(assigned))


@dataclass(frozen=True, slots=True)
class Resumed:
    """Where an assigned partition picks up: its first offset, the committed offset
    (or the first, if nothing was committed), and the log end seen now."""

    begin: int
    start: int
    end: int


async def resume(
    consumer: AIOKafkaConsumer, partitions: list[TopicPartition], settings: Settings
) -> dict[TopicPartition, Resumed]:
    """Seek each partition to its committed offset: the replay point after any crash.

    A committed offset outside the log is a broker fault, not a replay point: past the
    end, the broker lost acknowledged records and will hand their offsets out again
    (start at the end, or the new records there would be skipped); before the
    beginning, retention deleted records never consumed (start at the beginning).
    A committed offset past the listed end is checked against a fetch first: some
    brokers (tansu) list a wrong end offset while their fetches report the right one.
    """
    if not partitions:
        return {}
    ends = await consumer.end_offsets(partitions)
    begins = await consumer.beginning_offsets(partitions)
    out: dict[TopicPartition, Resumed] = {}
    for tp in partitions:
        committed = await consumer.committed(tp)
        start = committed if committed is not None else begins[tp]
        if start > ends[tp]:
            ends[tp] = max(ends[tp], await fetched_log_end(settings, tp, ends[tp]))
        if start > ends[tp] or start < begins[tp]:
            clamped = min(max(start, begins[tp]), ends[tp])
            log.error(
                "committed_offset_outside_log",
                topic=tp.topic,
                partition=tp.partition,
                committed=start,
                log_begin=begins[tp],
                log_end=ends[tp],
                resume_at=clamped,
            )
            start = clamped
        consumer.seek(tp, start)
        out[tp] = Resumed(begins[tp], start, ends[tp])
    return out


async def fetched_log_end(settings: Settings, tp: TopicPartition, listed: int) -> int:
    """The high watermark a fetch at ``listed`` reports (``listed`` if none comes)."""
    reader = clients.consumer(settings, group_id=None)
    await reader.start()
    try:
        reader.assign([tp])
        reader.seek(tp, listed)
        await reader.getmany(tp, timeout_ms=1000, max_records=1)
        high = reader.highwater(tp)
        return listed if high is None else int(high)
    finally:
        await reader.stop()


async def commit_committable(
    consumer: AIOKafkaConsumer,
    committable: Mapping[TopicPartition, Callable[[], int]],
    committed: dict[TopicPartition, int],
) -> None:
    """Commit every partition whose committable offset moved forward; a failed commit
    is retried at the next call (the offsets only ever stay behind, never ahead)."""
    offsets = {}
    for tp, offset_of in committable.items():
        c = offset_of()
        if c > committed.get(tp, -1):
            offsets[tp] = OffsetAndMetadata(c, "")
    if not offsets:
        return
    try:
        await consumer.commit(offsets)
    except KafkaError as exc:
        log.warning("commit_failed", error=repr(exc))
        return
    for tp, om in offsets.items():
        committed[tp] = om.offset


#: How long :func:`read_range` keeps asking a slow broker before it gives up.
READ_RANGE_TIMEOUT = 60.0


async def read_range(
    settings: Settings,
    tp: TopicPartition,
    start: int | None = None,
    end: int | None = None,
    *,
    give_up_after: float = READ_RANGE_TIMEOUT,
) -> AsyncIterator[Any]:
    """The records of ``tp`` with offsets in ``[start, end)``, with a private reader
    (``end`` None: to the log end as it is now; ``start`` None, or before the log
    start: from the log start; past the log end, which only an older log can have
    given, the topic having been recreated: from the log start too).

    All of them, however slow the broker: what is rebuilt from the range (a parked
    index, the recent event IDs, a stage's saved state) would otherwise be silently
    older than the log. A fetch that returns nothing is asked again, the reader's
    position passing offsets that hold no record (compacted away, transaction
    markers); after ``give_up_after`` seconds it raises TimeoutError, so the caller fails
    loudly instead of going on with part of the range."""
    reader = clients.consumer(settings, group_id=None)
    await reader.start()
    try:
        reader.assign([tp])
        first = (await reader.beginning_offsets([tp]))[tp]
        last = (await reader.end_offsets([tp]))[tp]
        if start is None or not first <= start <= last:
            start = first
        if end is None:
            end = last
        if start >= end:
            return
        reader.seek(tp, start)
        position = start
        deadline = asyncio.get_running_loop().time() + give_up_after
        while position < end:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(
                    f"{tp.topic}[{tp.partition}]: read to {position} of [{start}, {end}) "
                    f"in {give_up_after:g} s"
                )
            batch = await reader.getmany(tp, timeout_ms=1000, max_records=5000)
            messages = batch.get(tp, [])
            if not messages:
                position = max(position, await reader.position(tp))
            for m in messages:
                position = m.offset + 1
                if m.offset >= end:
                    return
                yield m
    finally:
        await reader.stop()


def freshness(
    consumer: AIOKafkaConsumer, tp: TopicPartition, position: int, now: float, stale_after: float
) -> tuple[bool, bool]:
    """``(connected, caught_up)`` of an assigned partition, for a stage that closes
    intervals by event time (:class:`recorder.events.windows.Watermark`).

    Connected: the broker answered a fetch of it within ``stale_after`` seconds (a
    paused or unreachable broker answers none); caught up: and ``position`` (the next
    offset the stage will read) is at the log end that answer gave."""
    if tp not in consumer.assignment():
        return False, False
    answered_ms = consumer.last_poll_timestamp(tp)
    if answered_ms is None or now * 1000 - answered_ms > stale_after * 1000:
        return False, False
    high = consumer.highwater(tp)
    return True, high is not None and position >= high
