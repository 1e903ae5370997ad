"""The writer service: routed records in, CloudTrail log files in S3 out, exactly once.

This module consumes and cuts: per assigned partition of ``routed`` a
:class:`PartitionBatcher` decides cuts, the writer produces the cut markers, hands
each cut batch to :class:`~recorder.delivery.upload.Deliveries` (S3 put, notice,
manifest; or parking on ``routed-retry``) and commits an offset only once every
record before it is in S3 or parked. It also keeps itself bounded: past the
buffered-bytes budget it pauses its partitions, and ``ready`` turns false when cut
batches make no progress for ``stall_timeout`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

import aioboto3
import orjson
from aiokafka import TopicPartition
from aiokafka.errors import KafkaError

from recorder.delivery.batcher import MARKER_HEADER, Batch, CutMarker, PartitionBatcher, Routed
from recorder.delivery.grants import GrantChecker
from recorder.delivery.notices import Notifier
from recorder.delivery.regional import RegionalClients
from recorder.delivery.retry import ParkingLot
from recorder.delivery.status import DeliveryStatus, TrailDeliveryStatus, now_str
from recorder.delivery.target import TargetLookup
from recorder.delivery.upload import Deliveries, aws_config
from recorder.delivery.window import SeenWindow
from recorder.kafka import clients
from recorder.kafka.dlq import BAD_MARKER, UNDECODABLE, expect, send_dead_letter
from recorder.kafka.lag import record_lag
from recorder.kafka.pacing import BUDGET, Pacer, Pauses
from recorder.kafka.partitions import OwnerListener, commit_committable, read_range, resume
from recorder.kafka.watermarks import WATERMARK_HEADER, Mark, RoutedProgress
from recorder.obs.logging import get_logger
from recorder.obs.metrics import Metrics
from recorder.obs.progress import Progress
from recorder.settings import Settings
from recorder.trails.destination import Destination

log = get_logger("recorder.writer")

GROUP_ID = "recorder-writer"
#: Per partition: how many recent (destination, eventID) pairs are remembered, so a
#: record routed twice (the router runs at least once) lands in one file only.
DEDUPE_WINDOW = 200_000
#: Records one poll may bring: a full poll is read again without a linger.
POLL_RECORDS = 5000
#: On revocation: how long deliveries under way may take before the commit.
HANDOVER_WAIT = 10.0

__all__ = ["GROUP_ID", "TrailDeliveryStatus", "Writer"]


def _header(headers: Any, name: str) -> bytes | None:
    for k, v in headers or ():
        if k == name:
            return v  # type: ignore[no-any-return]
    return None


@dataclass
class Writer:
    settings: Settings
    targets: TargetLookup
    metrics: Metrics = field(default_factory=Metrics)
    group_id: str = GROUP_ID
    max_concurrent_puts: int = 8
    status: DeliveryStatus = field(default_factory=DeliveryStatus)

    def __post_init__(self) -> None:
        self._batchers: dict[TopicPartition, PartitionBatcher] = {}
        self._committed: dict[TopicPartition, int] = {}
        self._seen: dict[TopicPartition, SeenWindow] = {}
        self._marks: dict[TopicPartition, RoutedProgress] = {}  # routers' marks, per partition
        self._cut_marks: dict[int, int] = {}  # the last cut marks published
        self._next_mark = 0.0
        self._tasks: set[asyncio.Task[None]] = set()
        self._cutting = asyncio.Lock()  # held while cut markers are being produced
        self._stopping = False
        self._finished = 0  # batches delivered or parked: progress for readiness
        self._progress = Progress(self.settings.stall_timeout, time.monotonic())
        self._started = False
        self.parking = ParkingLot(self.settings, self.metrics, self.group_id)
        self.ready = asyncio.Event()
        expect(self.metrics, "writer", UNDECODABLE, BAD_MARKER)
        # before any byte is buffered: an alert divides the buffered bytes by it
        self.metrics.writer_buffer_budget.set(self.settings.writer_buffer_bytes)

    # -- lifecycle ---------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        s = self.settings
        self._consumer = clients.consumer(s, group_id=self.group_id, max_poll_records=POLL_RECORDS)
        self._pauses = Pauses(self._consumer)
        self._pacer = Pacer(self._consumer, self._pauses, s.poll_linger, POLL_RECORDS)
        # Idempotent where the broker has it. Without it (tansu) a retried send may write
        # a marker twice; the repeat names records the first one already took, so it cuts
        # nothing and replays decide the same.
        self._producer = await clients.started_producer(s, "writer")
        session = aioboto3.Session()
        config = aws_config(s)
        regional = RegionalClients(s, config)
        notifier = Notifier(s, self.metrics, regional)
        async with session.client("s3", config=config, **s.aws_client_kwargs()) as s3:
            await self.parking.start(self._producer)
            self.deliveries = Deliveries(
                s,
                self.targets,
                self.metrics,
                self.status,
                s3,
                notifier,
                self._producer,
                self.parking,
                self.max_concurrent_puts,
                GrantChecker(s, self.metrics, s3, regional),
            )
            await self._consumer.start()
            static = await clients.join(
                self._consumer, s, s.topics.routed, OwnerListener(self), self._pauses
            )
            if static is not None:
                await self.assign(static)
            self._started = True
            self.ready.set()
            log.info("writer_started", topic=s.topics.routed, cut_interval=s.cut_interval)
            parking_stop = asyncio.Event()
            retrying = asyncio.create_task(self.parking.run(parking_stop))
            try:
                await self._loop(stop)
                await self._drain(within=max(10.0, s.cut_interval / 10))
            finally:
                parking_stop.set()
                await asyncio.gather(retrying, return_exceptions=True)
                for task in self._tasks:
                    task.cancel()
                await self.parking.stop()
                await regional.close()
                with contextlib.suppress(Exception):
                    await self._consumer.stop()
                with contextlib.suppress(Exception):
                    await self._producer.stop()

    async def _loop(self, stop: asyncio.Event) -> None:
        interval = self.settings.cut_interval
        last_lag = 0.0
        while not stop.is_set():
            await self._poll_once()
            await self._request_cuts(time.monotonic(), interval)
            await self._budget()
            await self._commit()
            await self._publish_cut_marks()
            self._check_progress()
            if time.monotonic() - last_lag > 1.0:
                last_lag = time.monotonic()
                await record_lag(self._consumer, self.metrics, "writer")
                self._record_uncommitted()

    def _record_uncommitted(self) -> None:
        """How far the committed offsets trail the log: a pinned partition shows here."""
        total = 0
        for tp, committed in self._committed.items():
            high = self._consumer.highwater(tp)
            if high is not None:
                total += max(0, high - committed)
        self.metrics.writer_uncommitted.set(total)

    async def _budget(self) -> None:
        """Past the buffered-bytes budget, cut every open batch and pause the
        partitions that have no cut marker on its way (those must be read up to
        their marker, or nothing could ever be cut and delivered); resume once
        deliveries or parking have brought the buffer back under the budget."""
        buffered = self._buffered()
        if buffered > self.settings.writer_buffer_bytes:
            async with self._cutting:
                await self._request_cuts_locked(
                    time.monotonic(), self.settings.cut_interval, flush=True, reason="budget"
                )
            paused = self._pauses.held(BUDGET)
            pause = self._pauses.hold(
                BUDGET,
                [
                    tp
                    for tp, b in self._batchers.items()
                    if not b.cut_requested and tp not in paused
                ],
            )
            if pause:
                self.metrics.writer_pauses.inc(len(pause))
                log.warning(
                    "writer_paused", partitions=[tp.partition for tp in pause], bytes=buffered
                )
        elif paused := self._pauses.held(BUDGET):
            self._pauses.release(BUDGET)
            log.info("writer_resumed", partitions=sorted(tp.partition for tp in paused))
        self.metrics.writer_paused.set(len(self._pauses.held(BUDGET)))

    def _buffered(self) -> int:
        """Bytes of routed records held now; the gauge follows every change."""
        buffered = sum(b.buffered_bytes for b in self._batchers.values())
        self.metrics.writer_buffered_bytes.set(buffered)
        return buffered

    def _check_progress(self) -> None:
        """Ready while cut batches keep leaving (delivered or parked), or none wait."""
        done = self._finished + self.parking.finished
        stalled = self._progress.observe(done, bool(self._tasks), time.monotonic())
        if stalled and self.ready.is_set():
            log.error("writer_stalled", batches_waiting=len(self._tasks))
            self.ready.clear()
        elif not stalled and self._started and not self.ready.is_set():
            self.ready.set()

    async def _drain(self, within: float) -> None:
        """SIGTERM: cut every open batch, deliver it and commit, within ``within`` s."""
        self._stopping = True
        deadline = time.monotonic() + within
        flushed = False
        while time.monotonic() < deadline:
            if not flushed:
                await self._request_cuts(time.monotonic(), self.settings.cut_interval, flush=True)
                flushed = True
            await self._poll_once(timeout_ms=100)
            await self._request_cuts(time.monotonic(), self.settings.cut_interval, flush=True)
            await self._commit()
            if all(b.idle() for b in self._batchers.values()) and not self._tasks:
                break
        await self._commit()
        log.info("writer_drained", idle=all(b.idle() for b in self._batchers.values()))

    # -- partitions --------------------------------------------------------------------
    def seat(self) -> int | None:
        """The lowest partition of ``routed`` this writer owns (its status keys' name)."""
        return min((tp.partition for tp in self._batchers), default=None)

    async def assign(self, partitions: list[TopicPartition]) -> None:
        s = self.settings
        await self.parking.assign([tp.partition for tp in partitions])
        for tp, r in (await resume(self._consumer, partitions, self.settings)).items():
            start = r.start
            self._committed[tp] = start
            self._seen[tp] = await self._recall_seen(tp, max(r.begin, start - DEDUPE_WINDOW), start)
            self._marks[tp] = RoutedProgress()
            self._batchers[tp] = PartitionBatcher(
                tp.partition,
                start,
                caught_up_at=r.end,
                max_records=s.batch_max_records,
                max_bytes=s.batch_max_bytes,
            )
            log.info("partition_assigned", partition=tp.partition, start=start, end=r.end)

    async def _recall_seen(self, tp: TopicPartition, start: int, end: int) -> SeenWindow:
        """The (destination, eventID) pairs just before ``end``: the dedupe window a
        replay from ``end`` needs to decide exactly as the first run did."""
        seen = SeenWindow(DEDUPE_WINDOW)
        async for m in read_range(self.settings, tp, start, end):
            event_id = _header(m.headers, "eventID")
            if event_id and _header(m.headers, MARKER_HEADER) is None:
                seen.add((m.key or b"", event_id))
        return seen

    def revoke(self, partitions: list[TopicPartition]) -> None:
        self.parking.revoke([tp.partition for tp in partitions])
        self._pauses.release(BUDGET, partitions)
        for tp in partitions:
            self._seen.pop(tp, None)
            self._marks.pop(tp, None)
            self._batchers.pop(tp, None)
            self._committed.pop(tp, None)
            log.info("partition_revoked", partition=tp.partition)

    # -- reading -----------------------------------------------------------------------
    async def _poll_once(self, timeout_ms: int = 200) -> None:
        batches = await self._pacer.poll(timeout_ms=timeout_ms, until=self._next_cut())
        now = time.monotonic()
        records_in = 0
        destinations: dict[bytes, Destination] = {}  # a poll brings few, many times each
        for tp, messages in batches.items():
            batcher = self._batchers.get(tp)
            if batcher is None:
                continue
            seen = self._seen.get(tp)
            if seen is None:
                seen = self._seen[tp] = SeenWindow(DEDUPE_WINDOW)
            for m in messages:
                # one pass over the headers: a routed record's, or a control record's
                event_time = event_id = control = None
                for name, header in m.headers or ():
                    if name == "eventTime":
                        event_time = header
                    elif name == "eventID":
                        event_id = header
                    elif name == MARKER_HEADER or (name == WATERMARK_HEADER and control is None):
                        control = name
                if control == MARKER_HEADER:
                    await self._on_marker(tp, batcher, m)
                    continue
                if control is not None:
                    self._on_router_mark(tp, batcher, m)
                    continue
                key = m.key or b""
                try:
                    dest = destinations.get(key) or destinations.setdefault(
                        key, Destination.from_key(key)
                    )
                    routed = Routed(
                        m.value,
                        event_time.decode() if event_time else "",
                        event_id.decode() if event_id else "",
                    )
                    if not m.value or m.value[:1] != b"{":
                        raise ValueError("routed value is not a rendered CloudTrail record")
                except (ValueError, UnicodeDecodeError) as exc:
                    await self._dead_letter(m, str(exc), UNDECODABLE)
                    batcher.skip(m.offset)
                    continue
                if event_id and not seen.add((key, event_id)):
                    batcher.skip(m.offset)  # routed twice: already in this or an earlier file
                    self.metrics.writer_duplicates.inc()
                    continue
                batcher.add(m.offset, dest, routed, now)
                records_in += 1
        self.metrics.writer_records_in.inc(records_in)
        self.metrics.writer_open_batches.set(
            sum(b.open_destinations for b in self._batchers.values())
        )

    def _next_cut(self) -> float | None:
        """When the next open batch's interval ends, if that is still to come: the
        poll before it holds no longer. One already due was asked for after the last
        poll; if its marker failed, it is asked again after the usual hold, not at once
        in a loop."""
        interval = self.settings.cut_interval
        dues = [d for b in self._batchers.values() if (d := b.next_due(interval)) is not None]
        due = min(dues, default=None)
        return due if due is not None and due > time.monotonic() else None

    async def _on_marker(self, tp: TopicPartition, batcher: PartitionBatcher, m: Any) -> None:
        try:
            marker = CutMarker.from_record(m.key or b"", m.value or b"")
        except (ValueError, KeyError, orjson.JSONDecodeError) as exc:
            await self._dead_letter(m, f"bad cut marker: {exc}", BAD_MARKER)
            batcher.skip(m.offset)
            return
        batch = batcher.on_marker(m.offset, marker)
        if batch is not None:
            task = asyncio.create_task(self._deliver(tp, batcher, batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _on_router_mark(self, tp: TopicPartition, batcher: PartitionBatcher, m: Any) -> None:
        batcher.skip(m.offset)
        try:
            mark = Mark.from_bytes(m.value or b"")
        except ValueError as exc:
            log.warning("bad_watermark", partition=tp.partition, offset=m.offset, error=str(exc))
            return
        self._marks.setdefault(tp, RoutedProgress()).on_mark(m.offset, mark)

    async def _publish_cut_marks(self) -> None:
        """Every ``watermark_interval``: into each ``delivered`` partition, until when the
        routed records of each owned partition are all in delivered (or parked) files.
        Sent after those files' manifests were acknowledged, so a digester reads a
        mark only after the manifests it vouches for (recorder.kafka.watermarks)."""
        now = time.monotonic()
        if now < self._next_mark:
            return
        self._next_mark = now + self.settings.watermark_interval
        times: dict[int, int] = {}
        for tp, batcher in self._batchers.items():
            progress = self._marks.get(tp)
            cut_until = progress.cut(batcher.committable()) if progress else None
            if cut_until is not None:
                times[tp.partition] = cut_until
        if not times or times == self._cut_marks:
            return
        topic = self.settings.topics.delivered
        routed = len(self._consumer.partitions_for_topic(self.settings.topics.routed) or ())
        mark = Mark(times, max(routed, max(times) + 1)).to_bytes()
        try:
            futures = [
                await self._producer.send(
                    topic, mark, partition=p, headers=[(WATERMARK_HEADER, b"1")]
                )
                for p in sorted(await self._producer.partitions_for(topic))
            ]
            await asyncio.gather(*futures)
        except KafkaError as exc:
            log.warning("cut_mark_failed", error=repr(exc))
            return
        self._cut_marks = times

    async def _dead_letter(self, m: Any, reason: str, kind: str) -> None:
        await send_dead_letter(
            self._producer,
            self.settings.topics.dlq,
            self.metrics,
            m,
            stage="writer",
            reason=reason,
            kind=kind,
        )

    # -- cutting ----------------------------------------------------------------------
    async def _request_cuts(self, now: float, interval: float, *, flush: bool = False) -> None:
        async with self._cutting:
            await self._request_cuts_locked(now, interval, flush=flush)

    async def _request_cuts_locked(
        self, now: float, interval: float, *, flush: bool, reason: str = "shutdown"
    ) -> None:
        # Every due destination's marker is sent before any is awaited: one round trip
        # for all of them, not one each (a cut of 50 destinations waited out 50 round
        # trips, seconds on a loaded broker, before the first marker could come back).
        # A marker names its records' offsets, so markers need no order among themselves.
        sent: list[tuple[PartitionBatcher, Destination, Any]] = []
        for tp, batcher in list(self._batchers.items()):
            for req in batcher.due(now, interval, flush=flush, flush_reason=reason):
                marker = CutMarker(
                    req.destination, req.first_offset, req.last_offset, now_str(), req.reason
                )
                try:
                    future = await self._producer.send(
                        tp.topic,
                        marker.to_bytes(),
                        key=req.destination.key(),
                        partition=tp.partition,
                        headers=[(MARKER_HEADER, b"1")],
                    )
                except KafkaError as exc:
                    log.warning("cut_marker_failed", partition=tp.partition, error=repr(exc))
                    batcher.cancel_request(req.destination)
                    continue
                sent.append((batcher, req.destination, future))
        if not sent:
            return
        results = await asyncio.gather(*(f for _, _, f in sent), return_exceptions=True)
        for (batcher, destination, _), result in zip(sent, results, strict=True):
            if isinstance(result, KafkaError):
                log.warning("cut_marker_failed", trail=destination.trail_arn, error=repr(result))
                batcher.cancel_request(destination)
            elif isinstance(result, BaseException):
                raise result
        self._pacer.wake()  # read the markers back now, not after the current hold

    # -- delivering -------------------------------------------------------------------
    async def _deliver(self, tp: TopicPartition, batcher: PartitionBatcher, batch: Batch) -> None:
        """Delivered or parked: either way the committed offset may pass the batch."""
        await self.deliveries.deliver(batch)
        batcher.delivered(batch)
        self._finished += 1
        self._buffered()

    # -- committing -------------------------------------------------------------------
    async def _commit(self) -> None:
        await commit_committable(
            self._consumer, {tp: b.committable for tp, b in self._batchers.items()}, self._committed
        )

    async def commit(self) -> None:
        """Before partitions move to another member (the rebalance listener; then
        :meth:`revoke`). No cut marker may still be on its way: the new owner reads
        the partition up to the end it sees on assignment before it requests cuts of
        its own, so every marker written before that end is one it reads first. Files
        being written are given a moment to land, so the commit covers them and the
        new owner need not write them again (it would write the same keys)."""
        async with self._cutting:
            if self._tasks:
                await asyncio.wait(set(self._tasks), timeout=HANDOVER_WAIT)
            await self._commit()
            await self.parking.commit(handing_over=True)
