"""The Insights stage: ``api-events`` in, Insights events onto ``routed`` out.

One :class:`~recorder.insights.detector.Detector` per assigned partition of
``api-events`` (keyed by account, so every series of an account is in one
partition). The stage only moves data: it decodes calls into the detector, closes
buckets as time passes, and hands the decided events to the writer as routed records
with an Insight destination, so they are delivered like every other log file (gzip,
SSE, SNS, manifest, digest) under ``CloudTrail-Insight/``.

Exactly once, after any crash. A decision is written down before it takes effect
(the principle of the writer's cut markers): closing buckets produces the detector's
whole state, the offset it has read to, and the events just decided, as one record
on the compacted ``insights-state`` topic; only then are the events sent to
``routed``. A restarted stage restores that state, sends the recorded events again
and reads on from the recorded offset. Event IDs are derived from the series and
the start bucket, so an event sent twice has one eventID and the writer keeps one
copy; a crash before the state record is written replays the calls since the
previous one and decides the same (same IDs). No second Start, no lost End.

Buckets close on the wall clock (``insights_lateness`` after their end), except
while the stage is behind its partition's end (after a restart or an outage): then
only buckets up to the newest eventTime read, so calls made meanwhile still count.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from recorder.events.codec import decode
from recorder.events.errors import EventDecodeError
from recorder.insights.detector import Detector, InsightEvent, Rule
from recorder.insights.streams import destinations, epoch_of, series_of
from recorder.kafka import clients
from recorder.kafka.lag import record_lag
from recorder.kafka.pacing import Pacer, Pauses
from recorder.kafka.partitions import OwnerListener
from recorder.obs.logging import get_logger
from recorder.obs.metrics import Metrics
from recorder.settings import Settings

log = get_logger("recorder.insights")

GROUP_ID = "recorder-insights"
POLL_RECORDS = 5000


def rule_of(settings: Settings) -> Rule:
    return Rule(
        window=settings.insights_baseline_window,
        k=settings.insights_threshold,
        bucket_seconds=settings.insights_bucket_seconds,
    )


@dataclass
class _Partition:
    detector: Detector
    position: int  # next offset of api-events to read
    newest: float = 0.0  # newest eventTime read (epoch seconds)


@dataclass
class InsightsStage:
    settings: Settings
    registry: Any  # TrailRegistry: .trails (ARN -> Trail), .organizations
    metrics: Metrics = field(default_factory=Metrics)
    group_id: str = GROUP_ID

    def __post_init__(self) -> None:
        self.rule = rule_of(self.settings)
        self._parts: dict[TopicPartition, _Partition] = {}
        self._lock = asyncio.Lock()
        self.ready = asyncio.Event()

    # -- lifecycle ---------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        s = self.settings
        self._consumer: AIOKafkaConsumer = clients.consumer(
            s, group_id=self.group_id, max_poll_records=POLL_RECORDS
        )
        self._pauses = Pauses(self._consumer)
        self._pacer = Pacer(self._consumer, self._pauses, s.poll_linger, POLL_RECORDS)
        # gzip: the state record grows with the series kept (~40 bytes each compressed)
        self._producer: AIOKafkaProducer = clients.producer(s, compression_type="gzip")
        await self._producer.start()
        await self._consumer.start()
        try:
            static = await clients.join(
                self._consumer, s, s.topics.api_events, OwnerListener(self), self._pauses
            )
            if static is not None:
                await self.assign(static)
            self.ready.set()
            log.info(
                "insights_started",
                bucket_seconds=self.rule.bucket_seconds,
                window=self.rule.window,
                threshold=self.rule.k,
            )
            last_lag = 0.0
            while not stop.is_set():
                await self._poll_once()
                await self._close_due(time.time())
                if time.monotonic() - last_lag > 1.0:
                    last_lag = time.monotonic()
                    await record_lag(self._consumer, self.metrics, "insights")
            await self.commit()
        finally:
            with contextlib.suppress(Exception):
                await self._consumer.stop()
            with contextlib.suppress(Exception):
                await self._producer.stop()

    # -- partitions --------------------------------------------------------------------
    async def assign(self, partitions: list[TopicPartition]) -> None:
        """Restore each partition's detector from its last state record, send again the
        events that record decided, and read on from its offset. A partition with no
        state starts learning at the log end (like enabling Insights: no history)."""
        async with self._lock:
            saved = await self._load_states({tp.partition for tp in partitions})
            ends = await self._consumer.end_offsets(partitions)
            for tp in partitions:
                doc = saved.get(tp.partition)
                if doc is None:
                    part = _Partition(Detector(self.rule), ends[tp])
                    replay: list[InsightEvent] = []
                else:
                    part = _Partition(
                        Detector.restore(self.rule, doc["detector"]),
                        int(doc["offset"]),
                        float(doc.get("newest", 0.0)),
                    )
                    replay = [InsightEvent.from_json(e) for e in doc.get("events", [])]
                self._consumer.seek(tp, part.position)
                self._parts[tp] = part
                if replay:
                    await self._emit(replay)
                log.info(
                    "insights_partition_assigned",
                    partition=tp.partition,
                    start=part.position,
                    restored=doc is not None,
                    resent=len(replay),
                )

    def revoke(self, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            self._parts.pop(tp, None)

    async def commit(self) -> None:
        """Before partitions move (and at stop): record every partition's state, so the
        next owner reads on from exactly here."""
        async with self._lock:
            for tp, part in list(self._parts.items()):
                await self._save(tp, part, [])

    async def _load_states(self, wanted: set[int]) -> dict[int, dict[str, Any]]:
        topic = self.settings.topics.insights_state
        reader = clients.consumer(self.settings, group_id=None)
        await reader.start()
        out: dict[int, dict[str, Any]] = {}
        try:
            tp = TopicPartition(topic, 0)
            reader.assign([tp])
            await reader.seek_to_beginning(tp)
            end = (await reader.end_offsets([tp]))[tp]
            position = 0
            while position < end:
                batch = await reader.getmany(tp, timeout_ms=1000, max_records=5000)
                messages = batch.get(tp, [])
                if not messages:
                    break
                for m in messages:
                    position = m.offset + 1
                    partition = _partition_of_key(m.key, self.settings.topics.api_events)
                    if partition in wanted:
                        if m.value is None:
                            out.pop(partition, None)
                        else:
                            out[partition] = orjson.loads(m.value)
        finally:
            await reader.stop()
        return out

    # -- reading -----------------------------------------------------------------------
    async def _poll_once(self) -> None:
        batches = await self._pacer.poll()
        async with self._lock:
            for tp, messages in batches.items():
                part = self._parts.get(tp)
                if part is None:
                    continue
                self._observe(part, messages)

    def _observe(self, part: _Partition, messages: list[Any]) -> None:
        det = part.detector
        calls = late = 0
        for m in messages:
            part.position = m.offset + 1
            try:
                record = decode(m.value or b"")
            except EventDecodeError:
                continue  # the router dead-letters it; nothing to count here
            keys = series_of(record)
            if not keys:
                continue
            epoch = epoch_of(record)
            if epoch is None:
                continue
            part.newest = max(part.newest, epoch)
            bucket = det.bucket_of(epoch)
            for key in keys:
                if det.observe(key, bucket):
                    calls += 1
                else:
                    late += 1
        self.metrics.insights_calls.inc(calls)
        if late:
            self.metrics.insights_late.inc(late)

    # -- deciding ----------------------------------------------------------------------
    async def _close_due(self, now: float) -> None:
        async with self._lock:
            for tp, part in list(self._parts.items()):
                det = part.detector
                limit = now - self.settings.insights_lateness
                high = self._consumer.highwater(tp)
                if high is not None and part.position < high:
                    limit = min(limit, part.newest - self.settings.insights_lateness)
                through = det.bucket_of(limit) - 1
                if det.closed_through is not None and through <= det.closed_through:
                    continue
                if det.closed_through is None and not det.pending:
                    continue
                events = det.close_through(through)
                if det.closed_through is None:
                    continue  # nothing closable yet
                await self._save(tp, part, events)
                if events:
                    await self._emit(events)
                self.metrics.insights_open.set(
                    sum(p.detector.open_insights for p in self._parts.values())
                )
                self.metrics.insights_series.set(
                    sum(len(p.detector.series) for p in self._parts.values())
                )

    async def _save(self, tp: TopicPartition, part: _Partition, events: list[InsightEvent]) -> None:
        doc = {
            "offset": part.position,
            "newest": part.newest,
            "detector": part.detector.snapshot(),
            "events": [e.to_json() for e in events],
        }
        await self._retry(
            lambda: self._producer.send_and_wait(
                self.settings.topics.insights_state,
                orjson.dumps(doc),
                key=f"{tp.topic}:{tp.partition}".encode(),
                partition=0,
            )
        )

    async def _emit(self, events: list[InsightEvent]) -> None:
        trails = list(self.registry.trails.values())
        organizations = self.registry.organizations
        routed = self.settings.topics.routed
        futures = []
        for event in events:
            self.metrics.insights_events.labels(event.state, event.key.insight_type).inc()
            value = orjson.dumps(event.to_record())
            headers = [
                ("eventTime", event.event_time.encode()),
                ("eventID", event.event_id.encode()),
            ]
            targets = destinations(event, trails, organizations)
            log.info(
                "insights_event",
                state=event.state,
                event_id=event.event_id,
                shared_event_id=event.shared_event_id,
                account_id=event.key.account_id,
                region=event.key.region,
                event_source=event.key.event_source,
                event_name=event.key.event_name,
                insight_type=event.key.insight_type,
                baseline=event.baseline,
                insight=event.insight,
                trail_arns=[d.trail_arn for d in targets],
            )
            for dest in targets:
                futures.append((routed, value, dest.key(), headers))

        async def send_all() -> None:
            sent = [
                await self._producer.send(topic, value, key=key, headers=headers)
                for topic, value, key, headers in futures
            ]
            await asyncio.gather(*sent)

        if futures:
            await self._retry(send_all)

    async def _retry(self, op: Any) -> None:
        """A state record or an event is never dropped: retry with backoff until sent."""
        delay = 0.1
        while True:
            try:
                await op()
                return
            except (KafkaError, OSError, TimeoutError) as exc:
                log.warning("insights_send_retrying", error=repr(exc), retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)


def _partition_of_key(key: bytes | None, topic: str) -> int | None:
    if not key:
        return None
    name, _, number = key.decode(errors="replace").rpartition(":")
    if name != topic or not number.isdigit():
        return None
    return int(number)


def create(settings: Settings, registry: Any, metrics: Metrics) -> InsightsStage:
    return InsightsStage(settings, registry, metrics)
