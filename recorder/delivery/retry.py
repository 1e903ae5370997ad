"""The parking lot: failing destinations' batches on ``routed-retry``, retried on a
schedule, delivered in order once the destination works, dead-lettered with the
reason after ``parking_period``.

The writer that owns partition ``p`` of ``routed`` owns partition ``p`` of
``routed-retry`` too: it parks there, rebuilds the index (offsets only, see
:mod:`recorder.delivery.parking`) from the committed offset when the partition is
assigned, and commits it (a commit-only member of its own group, manually assigned)
as parked entries are delivered. Memory holds no parked events: an attempt reads its
record back by offset.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import OffsetAndMetadata

from recorder.delivery.batcher import Batch
from recorder.delivery.notices import DeliveryFailed, send_until_taken
from recorder.delivery.parked_trails import ages, parked_trails
from recorder.delivery.parking import (
    DONE,
    FILE,
    INDEX,
    NOTICE,
    PARKED_HEADER,
    Lane,
    ParkedFile,
    ParkedIndex,
    ParkedNotice,
    done_offset,
    done_record,
)
from recorder.delivery.slots import FairSlots
from recorder.delivery.target import DeliveryTarget
from recorder.kafka import clients
from recorder.kafka.dlq import PARKING_EXPIRED, expect, send_dead_letter
from recorder.kafka.partitions import read_range
from recorder.obs.logging import get_logger
from recorder.obs.metrics import Metrics
from recorder.retry import Failure, retry_delay
from recorder.settings import Settings
from recorder.trails.destination import Destination

log = get_logger("recorder.writer")

#: Parked batches retried at once (each may wait for botocore's retries).
RETRY_CONCURRENCY = 4
#: Seconds between checkpoints of a partition's parked index (when it changed).
CHECKPOINT_EVERY = 30.0
#: Seconds between ticks of the retry loop while something is parked or being retried,
#: and at most while nothing is (a park wakes it at once).
TICK, IDLE_TICK = 0.5, 5.0


def _header(headers: Any, name: str) -> bytes | None:
    for k, v in headers or ():
        if k == name:
            return v  # type: ignore[no-any-return]
    return None


async def _no_retry(_: Any) -> None:
    raise DeliveryFailed(Failure("NotWired", False))


class ParkingLot:
    def __init__(self, settings: Settings, metrics: Metrics, group_id: str) -> None:
        self.settings = settings
        self.metrics = metrics
        self.topic = settings.topics.routed_retry
        self.group_id = f"{group_id}-retry"
        self._index: dict[int, ParkedIndex] = {}
        self._committed: dict[int, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        # one parked trail's retries (each may wait out botocore's) hold at most their
        # share of the retry slots while other trails' wait
        self._retries = FairSlots(RETRY_CONCURRENCY)
        # park, done and checkpoint records of a partition are sent one at a time, each
        # learned by the index before the next: a checkpoint then holds every entry
        # parked before its offset
        self._writing = asyncio.Lock()
        self._checkpoints: dict[int, tuple[int, int, float]] = {}  # offset, changes, time
        self._reading = asyncio.Lock()
        self.retry_file: Callable[[ParkedFile], Awaitable[None]] = _no_retry
        self.retry_notice: Callable[[ParkedNotice], Awaitable[None]] = _no_retry
        self.lock: Callable[[Destination], contextlib.AbstractAsyncContextManager[None]] = (
            lambda _: contextlib.nullcontext()  # type: ignore[assignment,return-value]
        )
        self.finished = 0  # parked entries delivered or dead-lettered (progress)
        self._wake = asyncio.Event()  # something was parked, or partitions came with some
        expect(metrics, "writer", PARKING_EXPIRED)
        metrics.writer_parking_period.set(settings.parking_period)

    # -- lifecycle ---------------------------------------------------------------------
    async def start(self, producer: Any) -> None:
        self._producer = producer
        self._offsets: AIOKafkaConsumer = clients.consumer(self.settings, group_id=self.group_id)
        self._reader: AIOKafkaConsumer = clients.consumer(self.settings, group_id=None)
        await self._offsets.start()
        await self._reader.start()

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.commit(handing_over=True)
        for c in (self._offsets, self._reader):
            with contextlib.suppress(Exception):
                await c.stop()

    def _tp(self, partition: int) -> TopicPartition:
        return TopicPartition(self.topic, partition)

    async def assign(self, partitions: list[int]) -> None:
        """Take ``routed-retry`` partitions with their ``routed`` namesakes: rebuild
        the index of what is parked from the committed offset to the log end."""
        owned = sorted({*self._index, *partitions})
        self._own([self._tp(p) for p in owned])
        fresh = [p for p in partitions if p not in self._index]
        if not fresh:
            return
        ends = await self._offsets.end_offsets([self._tp(p) for p in fresh])
        begins = await self._offsets.beginning_offsets([self._tp(p) for p in fresh])
        for p in fresh:
            tp = self._tp(p)
            committed = await self._offsets.committed(tp)
            start = min(max(committed or 0, begins[tp]), ends[tp])
            index = ParkedIndex(start)
            async for m in read_range(self.settings, tp, start, ends[tp]):
                self._learn(index, m)
            self._index[p] = index
            self._committed[p] = start
            # everything before start is done or in the index: commit no further back
            self._checkpoints[p] = (start, index.changes, time.monotonic())
            log.info(
                "parked_index_rebuilt",
                partition=p,
                start=start,
                end=ends[tp],
                destinations=len(index.destinations()),
                events=index.events(),
            )
        self._wake.set()  # what was parked before may be due now

    @staticmethod
    def _learn(index: ParkedIndex, m: Any) -> None:
        kind = (_header(m.headers, PARKED_HEADER) or b"").decode()
        try:
            if kind == FILE:
                f = ParkedFile.from_record(m.key or b"", m.value or b"")
                index.add(f.destination, FILE, m.offset, f.parked_at, len(f.records), f.error)
            elif kind == NOTICE:
                n = ParkedNotice.from_record(m.key or b"", m.value or b"")
                index.add(n.destination, NOTICE, m.offset, n.parked_at, 0, n.error)
            elif kind == DONE:
                index.done(done_offset(m.value or b""))
            elif kind == INDEX:
                index.restore(m.value or b"", m.offset)
            index.seen(m.offset)
        except (ValueError, KeyError, TypeError) as exc:
            log.error("parked_record_unreadable", offset=m.offset, error=repr(exc))
            index.seen(m.offset)

    def revoke(self, partitions: list[int]) -> None:
        for p in partitions:
            self._index.pop(p, None)
            self._committed.pop(p, None)
            self._checkpoints.pop(p, None)
        self._own([self._tp(p) for p in sorted(self._index)])

    def _own(self, tps: list[TopicPartition]) -> None:
        """Neither consumer streams: one keeps the group's offsets, the other reads one
        record when asked. aiokafka fetches an assigned partition whether or not anyone
        polls it (on a broker that answers at once, a busy loop), so both keep their
        partitions paused but while :meth:`_read` reads a record."""
        for consumer in (self._offsets, self._reader):
            consumer.assign(tps)
            if tps:
                consumer.pause(*tps)

    async def commit(self, *, handing_over: bool = False) -> None:
        """Commit each partition at its oldest entry still parked, or at its last
        checkpoint if that is later: a new owner then reads the checkpoint and what
        came after it, not every record since the oldest parked one (30 days).
        ``handing_over``: partitions move (or the writer stops): checkpoint first."""
        if handing_over:
            with contextlib.suppress(KafkaError, TimeoutError):
                await self._checkpoint(time.monotonic(), force=True)
        offsets = {}
        for p, index in self._index.items():
            c = index.committable()
            checkpoint = self._checkpoints.get(p)
            if checkpoint is not None:
                c = max(c, checkpoint[0])
            if c > self._committed.get(p, -1):
                offsets[self._tp(p)] = OffsetAndMetadata(c, "")
        if not offsets:
            return
        try:
            await self._offsets.commit(offsets)
        except KafkaError as exc:
            log.warning("retry_commit_failed", error=repr(exc))
            return
        for tp, om in offsets.items():
            self._committed[tp.partition] = om.offset

    # -- parking -----------------------------------------------------------------------
    def parked_error(
        self, partition: int, dest: Destination, *, notice: bool = False
    ) -> Failure | None:
        """The failure a destination is parked for (None: not parked)."""
        index = self._index.get(partition)
        lane = index.lanes.get((dest, NOTICE if notice else FILE)) if index else None
        if lane is None or not lane.entries:
            return None
        return Failure(lane.last_error or "Parked", True)

    async def park_file(
        self, batch: Batch, target: DeliveryTarget | None, failure: Failure
    ) -> None:
        parked = ParkedFile.of(batch, target, time.time(), failure.code)
        await self._park(
            batch.partition, batch.destination, FILE, parked.to_bytes(), failure, len(batch.records)
        )
        log.warning(
            "batch_parked",
            trail_arn=batch.destination.trail_arn,
            account_id=batch.destination.account_id,
            region=batch.destination.region,
            error=failure.code,
            error_class=failure.kind,
            records=len(batch.records),
            first_offset=batch.first_offset,
            partition=batch.partition,
        )

    async def park_notice(self, partition: int, notice: ParkedNotice, failure: Failure) -> None:
        await self._park(partition, notice.destination, NOTICE, notice.to_bytes(), failure, 0)
        log.warning(
            "notice_parked",
            trail_arn=notice.destination.trail_arn,
            topic_arn=notice.topic_arn,
            key=notice.key,
            error=failure.code,
        )

    def _index_of(self, partition: int) -> ParkedIndex:
        index = self._index.get(partition)
        if index is None:  # parked by a batch of a partition being handed over
            index = self._index[partition] = ParkedIndex(0)
        return index

    async def _park(
        self,
        partition: int,
        dest: Destination,
        kind: str,
        value: bytes,
        failure: Failure,
        events: int,
    ) -> None:
        async with self._writing:
            meta = await send_until_taken(
                self._producer,
                self.topic,
                value,
                what="park",
                key=dest.key(),
                partition=partition,
                headers=[(PARKED_HEADER, kind.encode())],
            )
            index = self._index_of(partition)
            new = not index.parked(dest, kind)
            index.add(dest, kind, meta.offset, time.time(), events, failure.code)
        lane = index.lanes[(dest, kind)]
        lane.last_error = failure.code
        if new and not lane.busy:
            lane.attempts = 1
            index.schedule(lane, time.monotonic() + self._delay(1))
        self._wake.set()
        self.metrics.writer_parked.labels(kind, failure.kind).inc()
        self.finished += 1

    def _delay(self, attempts: int) -> float:
        s = self.settings
        return retry_delay(attempts, base=s.park_retry_base, cap=s.park_retry_max)

    # -- retrying ----------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Start due retries, publish the gauges, commit: every ``TICK`` while something
        is parked or being retried, else when something is parked (or ``IDLE_TICK``).

        Every writer runs this loop, parked entries or not: ticking twice a second with
        nothing parked was a fixed cost of each writer process (the gauges, the commit
        check, two wake-ups), paid again for every writer added."""
        while not stop.is_set():
            self._wake.clear()
            now = time.monotonic()
            for p, index in list(self._index.items()):
                for lane in index.due(now):
                    lane.busy = True
                    task = asyncio.create_task(self._drain_lane(p, index, lane))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
            self._gauges()
            await self._checkpoint(time.monotonic())
            await self.commit()
            busy = bool(self._tasks) or any(len(index) for index in self._index.values())
            await self._pause(stop, TICK if busy else IDLE_TICK)

    async def _pause(self, stop: asyncio.Event, seconds: float) -> None:
        """Until ``stop``, a park (:attr:`_wake`), or ``seconds``."""
        if self._wake.is_set():
            return
        waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())]
        try:
            await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()

    def _gauges(self) -> None:
        dests: set[Destination] = set()
        events = 0
        oldest: float | None = None
        for index in self._index.values():
            dests |= index.destinations()
            events += index.events()
            o = index.oldest()
            if o is not None and (oldest is None or o < oldest):
                oldest = o
        self.metrics.writer_parked_destinations.set(len(dests))
        self.metrics.writer_parked_events.set(events)
        now = time.time()
        self.metrics.writer_oldest_parked_age.set(0 if oldest is None else now - oldest)
        self.metrics.writer_parked_trail_age.replace(ages(parked_trails(self._index.values()), now))

    async def _drain_lane(self, partition: int, index: ParkedIndex, lane: Lane) -> None:
        """Deliver the lane's entries oldest first until one fails or none are left."""
        try:
            trail = lane.destination.trail_arn
            async with self._retries.take(trail), self.lock(lane.destination):
                while lane.entries and self._index.get(partition) is index:
                    entry = lane.entries[0]
                    ok = await self._attempt(partition, index, lane, entry.offset)
                    if not ok:
                        lane.attempts += 1
                        index.schedule(lane, time.monotonic() + self._delay(lane.attempts))
                        return
        except Exception as exc:  # a retry must never end the writer
            log.error("parked_retry_failed", error=repr(exc), exc_info=exc)
            lane.attempts += 1
            index.schedule(lane, time.monotonic() + self._delay(lane.attempts))
        finally:
            lane.busy = False
            if not lane.entries:
                index.lanes.pop((lane.destination, lane.kind), None)

    async def _attempt(self, partition: int, index: ParkedIndex, lane: Lane, offset: int) -> bool:
        m = await self._read(partition, offset)
        if m is None:
            log.error("parked_record_missing", partition=partition, offset=offset)
            await self._done(partition, index, offset)
            return True
        kind = lane.kind
        parked: ParkedFile | ParkedNotice = (
            ParkedFile.from_record(m.key or b"", m.value or b"")
            if kind == FILE
            else ParkedNotice.from_record(m.key or b"", m.value or b"")
        )
        age = time.time() - parked.parked_at
        if age > self.settings.parking_period:
            await send_dead_letter(
                self._producer,
                self.settings.topics.dlq,
                self.metrics,
                m,
                stage="writer",
                reason=(
                    f"{kind} for {lane.destination.trail_arn} undeliverable for "
                    f"{int(age)} s (parking period {int(self.settings.parking_period)} s): "
                    f"{lane.last_error or parked.error}"
                ),
                kind=PARKING_EXPIRED,
            )
            await self._done(partition, index, offset)
            return True
        try:
            if isinstance(parked, ParkedFile):
                await self.retry_file(parked)
            else:
                await self.retry_notice(parked)
        except DeliveryFailed as exc:
            lane.last_error = exc.failure.code
            self.metrics.writer_retry_attempts.labels(kind, "failed").inc()
            log.info(
                "parked_retry_failed",
                trail_arn=lane.destination.trail_arn,
                kind=kind,
                error=exc.failure.code,
                attempts=lane.attempts,
            )
            return False
        self.metrics.writer_retry_attempts.labels(kind, "delivered").inc()
        log.info(
            "parked_delivered",
            trail_arn=lane.destination.trail_arn,
            kind=kind,
            parked_for=round(age, 1),
            offset=offset,
        )
        await self._done(partition, index, offset)
        return True

    async def _read(self, partition: int, offset: int) -> Any:
        tp = self._tp(partition)
        async with self._reading:
            self._reader.seek(tp, offset)
            self._reader.resume(tp)
            try:
                for _ in range(10):
                    batch = await self._reader.getmany(tp, timeout_ms=1000, max_records=1)
                    for m in batch.get(tp, []):
                        if m.offset == offset:
                            return m
                        if m.offset > offset:
                            return None
            finally:
                if tp in self._reader.assignment():
                    self._reader.pause(tp)
        return None

    async def _done(self, partition: int, index: ParkedIndex, offset: int) -> None:
        async with self._writing:
            meta = await send_until_taken(
                self._producer,
                self.topic,
                done_record(offset),
                what="park_done",
                key=b"done",
                partition=partition,
                headers=[(PARKED_HEADER, DONE.encode())],
            )
            index.done(offset)
            index.seen(meta.offset)
        self.finished += 1

    async def _checkpoint(self, now: float, *, force: bool = False) -> None:
        """Write each partition's index as a checkpoint record when entries are parked
        behind the log's end and it changed since the last one (at most every
        ``CHECKPOINT_EVERY`` seconds; ``force``: before partitions move)."""
        for p, index in list(self._index.items()):
            last = self._checkpoints.get(p)
            if not len(index) or index.committable() >= index.position:
                continue
            if last is not None and (
                last[1] == index.changes or (not force and now - last[2] < CHECKPOINT_EVERY)
            ):
                continue
            async with self._writing:
                meta = await send_until_taken(
                    self._producer,
                    self.topic,
                    index.snapshot(),
                    what="park_index",
                    key=b"index",
                    partition=p,
                    headers=[(PARKED_HEADER, INDEX.encode())],
                )
                index.seen(meta.offset)
                self._checkpoints[p] = (meta.offset, index.changes, now)
            log.info("parked_index_checkpoint", partition=p, offset=meta.offset, entries=len(index))
