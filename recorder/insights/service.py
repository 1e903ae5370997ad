"""The Insights stage: ``api-events`` in, Insights events onto ``routed`` out.

One :class:`~recorder.insights.detector.Detector` per assigned partition of
``api-events`` (keyed by account, so every series of an account is in one
partition). The stage only moves data: it decodes the calls of accounts with
Insights on into the detector, closes intervals as their event time passes, and
hands the decided events to the writer as routed records with an Insight destination,
so they are delivered like every other log file (gzip, SSE, SNS, manifest, digest)
under ``CloudTrail-Insight/``.

Intervals close by event time (:class:`~recorder.events.windows.Watermark`): the
newest eventTime read, less ``RECORDER_INSIGHTS_LATENESS``; on a quiet stream, the
clock, less the same, while the stage is connected and at the end of its partition.
While the broker is away, and for ``RECORDER_INSIGHTS_GRACE`` seconds after it is
back, no interval closes: calls held back by the outage (producers' journals) fill
their own intervals instead of leaving them empty (which would be a false drop and a
false Start/End pair). Repeats of an eventID within an open interval (a producer's
batch sent again after a time-out) are counted once.

State lives on the compacted ``insights-state`` topic, one record per series (key
``api-events:<p>|s|<series>``, tombstoned when the series is forgotten or its
account's Insights are turned off) and one per partition (``api-events:<p>|meta``:
the last closed interval, the offset to read again from, the watermark); partition
``p`` of ``api-events`` keeps its records in partition ``p mod n`` of the state topic,
and a gained partition reads only those. No record grows with the number of series.

Exactly once, after any crash. A decision is written down before it takes effect:
closing intervals writes the series records it changed (each with the events it
decided), then the partition's record; only then are the events sent to ``routed``.
A restarted stage restores the series and the partition record, sends the last
close's events again (same eventIDs: the writer keeps one copy) and reads
``api-events`` again from the first offset that fed an interval still open, so the
open intervals are counted again; a close cut short by a crash is finished, its
recorded series kept as decided. No second Start, no lost End.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from recorder.events.errors import EventDecodeError, InvalidEventError
from recorder.events.windows import Watermark
from recorder.insights.detector import Detector, InsightEvent, Rule, SeriesKey
from recorder.insights.streams import (
    Coverage,
    category_of,
    destinations,
    epoch_of,
    series_of,
)
from recorder.kafka import clients
from recorder.kafka.lag import record_lag
from recorder.kafka.pacing import Pacer, Pauses
from recorder.kafka.partitions import OwnerListener, freshness, read_range
from recorder.obs.logging import get_logger
from recorder.obs.metrics import Metrics
from recorder.provenance import Rejected, admit
from recorder.retry import OWN_BROKER, retry_async
from recorder.settings import Settings

log = get_logger("recorder.insights")

GROUP_ID = "recorder-insights"
POLL_RECORDS = 5000
META, SERIES = "meta", "s"


def rule_of(settings: Settings) -> Rule:
    return Rule(
        window=settings.insights_baseline_window,
        k=settings.insights_threshold,
        bucket_seconds=settings.insights_bucket_seconds,
    )


def state_key(tp: TopicPartition, kind: str, series: SeriesKey | None = None) -> bytes:
    """Key of a record on ``insights-state`` for partition ``tp`` of ``api-events``."""
    head = f"{tp.topic}:{tp.partition}|{kind}"
    if series is None:
        return head.encode()
    return head.encode() + b"|" + orjson.dumps(list(series))


@dataclass
class _Partition:
    detector: Detector
    position: int  # next offset of api-events to read
    watermark: Watermark
    #: Offsets below it were read before the restart this state comes from: a call of
    #: theirs into a closed interval was counted then, it is not late.
    replayed_until: int = 0
    #: Per open interval: the first offset that fed it, and the eventIDs counted.
    first_offsets: dict[int, int] = field(default_factory=dict)
    seen: dict[int, set[str]] = field(default_factory=dict)
    #: A whole-state snapshot of the previous stage is on the topic: removed once this
    #: partition's own records are written.
    snapshot_kept: bool = False

    def replay_from(self) -> int:
        return min([*self.first_offsets.values(), self.position])


@dataclass
class _Saved:
    """What ``insights-state`` holds for one partition."""

    meta: dict[str, Any] | None = None
    series: list[tuple[SeriesKey, Any]] = field(default_factory=list)
    snapshot: dict[str, Any] | None = None


@dataclass
class InsightsStage:
    settings: Settings
    registry: Any  # TrailRegistry: .trails (TrailIndex), .organizations, .version
    metrics: Metrics = field(default_factory=Metrics)
    group_id: str = GROUP_ID

    def __post_init__(self) -> None:
        self.rule = rule_of(self.settings)
        self._parts: dict[TopicPartition, _Partition] = {}
        self._lock = asyncio.Lock()
        self.ready = asyncio.Event()
        self._coverage: Coverage | None = None
        self._coverage_version = -1
        #: How long without a fetch answered the broker counts as away: a paced
        #: partition is not fetched for up to the poll linger.
        self._stale_after = 2 * self.settings.poll_linger + 3.0

    # -- lifecycle ---------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        s = self.settings
        self._producers = s.admission_keys(self.metrics.producer_keys_reloads)
        self._keys = self._producers.current()
        self._consumer: AIOKafkaConsumer = clients.consumer(
            s, group_id=self.group_id, max_poll_records=POLL_RECORDS
        )
        self._pauses = Pauses(self._consumer)
        self._pacer = Pacer(self._consumer, self._pauses, s.poll_linger, POLL_RECORDS)
        self._producer: AIOKafkaProducer = clients.producer(s)
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
                lateness=s.insights_lateness,
                grace=s.insights_grace,
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

    # -- which accounts have Insights on -------------------------------------------------
    def coverage(self) -> Coverage:
        version = getattr(self.registry, "version", 0)
        if self._coverage is None or version != self._coverage_version:
            trails = self.registry.trails
            with_insights = (
                trails.insight_trails() if hasattr(trails, "insight_trails") else trails.values()
            )
            self._coverage = Coverage(with_insights, self.registry.organizations)
            self._coverage_version = version
            for part in self._parts.values():  # Insights turned off: forget the account
                for account in part.detector.accounts():
                    if not self._coverage.covers(account):
                        dropped = part.detector.drop_account(account)
                        log.info("insights_account_dropped", account_id=account, series=dropped)
        return self._coverage

    # -- partitions --------------------------------------------------------------------
    async def assign(self, partitions: list[TopicPartition]) -> None:
        """Restore each partition's detector from its records, send again the events
        of its last close, and read on from the first offset of its open intervals.
        A partition with no state starts at the log end (like enabling Insights: no
        history)."""
        async with self._lock:
            saved = await self._load_states(partitions)
            ends = await self._consumer.end_offsets(partitions)
            s = self.settings
            for tp in partitions:
                found = saved[tp]
                meta, snapshot = found.meta, found.snapshot
                watermark = Watermark(
                    s.insights_lateness, s.insights_grace, max_gap=self._stale_after
                )
                replay: list[InsightEvent] = []
                if meta is not None:
                    part = _Partition(
                        Detector.restore(self.rule, meta.get("closedThrough"), found.series),
                        int(meta.get("replayFrom", meta["offset"])),
                        Watermark.from_json(
                            s.insights_lateness,
                            s.insights_grace,
                            meta.get("watermark") or {},
                            self._stale_after,
                        ),
                        replayed_until=int(meta["offset"]),
                    )
                    replay = part.detector.replayed_events()
                elif snapshot is not None:  # upgraded: taken over, pending buckets too
                    det = Detector.from_snapshot(self.rule, snapshot["detector"])
                    watermark.observe(float(snapshot.get("newest") or 0.0))
                    offset = int(snapshot["offset"])
                    part = _Partition(det, offset, watermark, replayed_until=offset)
                    part.first_offsets = dict.fromkeys(det.pending, offset)
                    replay = [InsightEvent.from_json(e) for e in snapshot.get("events", [])]
                else:
                    part = _Partition(Detector(self.rule), ends[tp], watermark)
                part.snapshot_kept = snapshot is not None
                self._consumer.seek(tp, part.position)
                self._parts[tp] = part
                if replay:
                    await self._emit(replay)
                log.info(
                    "insights_partition_assigned",
                    partition=tp.partition,
                    start=part.position,
                    restored=meta is not None or snapshot is not None,
                    series=len(part.detector.series),
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
                await self._save(tp, part)

    async def _load_states(self, partitions: list[TopicPartition]) -> dict[TopicPartition, _Saved]:
        """The last record of each key of these partitions, from the state partitions
        that hold them."""
        topic = self.settings.topics.insights_state
        count = await self._state_partitions()
        wanted = {f"{tp.topic}:{tp.partition}".encode(): tp for tp in partitions}
        last: dict[bytes, bytes | None] = {}
        for state_partition in sorted({tp.partition % count for tp in partitions}):
            stp = TopicPartition(topic, state_partition)
            async for m in read_range(self.settings, stp):
                if m.key and m.key.split(b"|", 1)[0] in wanted:
                    last[m.key] = m.value
        out = {tp: _Saved() for tp in partitions}
        for key, value in last.items():
            if value is None:
                continue
            head, *kind = key.split(b"|", 2)
            saved = out[wanted[head]]
            if not kind:  # the whole-state snapshot of the stage before this one
                saved.snapshot = orjson.loads(value)
            elif kind[0] == META.encode():
                saved.meta = orjson.loads(value)
            elif kind[0] == SERIES.encode() and len(kind) == 2:
                saved.series.append((SeriesKey(*orjson.loads(kind[1])), orjson.loads(value)))
        return out

    async def _state_partitions(self) -> int:
        found = await self._producer.partitions_for(self.settings.topics.insights_state)
        return max(1, len(found or ()))

    # -- reading -----------------------------------------------------------------------
    async def _poll_once(self) -> None:
        batches = await self._pacer.poll()
        self._keys = self._producers.current()
        async with self._lock:
            coverage = self.coverage()
            for tp, messages in batches.items():
                part = self._parts.get(tp)
                if part is None:
                    continue
                self._observe(part, messages, coverage)

    def _observe(self, part: _Partition, messages: list[Any], coverage: Coverage) -> None:
        det = part.detector
        calls = late = 0
        for m in messages:
            part.position = m.offset + 1
            try:  # what the router would not route feeds no series either
                record = admit(self._keys, m.headers, m.key, m.value).record
            except (Rejected, EventDecodeError, InvalidEventError) as exc:
                if isinstance(exc, Rejected):
                    self.metrics.rejected.labels("insights", exc.key_id or "-", exc.kind).inc()
                continue  # the router dead-letters it; nothing to count here
            keys = series_of(record)
            if not keys:
                continue
            types = coverage.types(keys[0].account_id, keys[0].region, category_of(keys[0]))
            if not types:
                continue  # Insights are off for the account: nothing is kept
            epoch = epoch_of(record)
            if epoch is None:
                continue
            part.watermark.observe(epoch)
            bucket = det.bucket_of(epoch)
            if det.closed_through is not None and bucket <= det.closed_through:
                if m.offset >= part.replayed_until:
                    late += 1
                continue
            event_id = str(record.get("eventID") or "")
            seen = part.seen.setdefault(bucket, set())
            if event_id:
                if event_id in seen:
                    continue  # the same call sent again (a producer's retried batch)
                seen.add(event_id)
            part.first_offsets.setdefault(bucket, m.offset)
            for key in keys:
                if key.insight_type in types and det.observe(key, bucket):
                    calls += 1
        self.metrics.insights_calls.inc(calls)
        if late:
            self.metrics.insights_late.inc(late)

    # -- deciding ----------------------------------------------------------------------
    async def _close_due(self, now: float) -> None:
        async with self._lock:
            for tp, part in list(self._parts.items()):
                det = part.detector
                connected, caught_up = freshness(
                    self._consumer, tp, part.position, now, self._stale_after
                )
                part.watermark.tick(now, connected=connected, caught_up=caught_up)
                through = part.watermark.closed_through(self.rule.bucket_seconds)
                if through is None:
                    continue
                if det.closed_through is not None and through <= det.closed_through:
                    continue
                if det.closed_through is None and not det.pending:
                    continue
                events = det.close_through(through)
                if det.closed_through is None:
                    continue  # nothing closable yet
                for b in [b for b in part.first_offsets if b <= det.closed_through]:
                    del part.first_offsets[b]
                    part.seen.pop(b, None)
                await self._save(tp, part)
                if events:
                    await self._emit(events)
            self.metrics.insights_open.set(
                sum(p.detector.open_insights for p in self._parts.values())
            )
            self.metrics.insights_series.set(
                sum(len(p.detector.series) for p in self._parts.values())
            )

    async def _save(self, tp: TopicPartition, part: _Partition) -> None:
        """The changed series records, then the partition's record (in that order, on
        one partition of the state topic): a restart that finds the partition record
        finds every series record before it."""
        changes = part.detector.take_changes()
        topic = self.settings.topics.insights_state
        partition = tp.partition % await self._state_partitions()
        records: list[tuple[bytes, bytes | None]] = [
            (state_key(tp, SERIES, key), None if doc is None else orjson.dumps(doc))
            for key, doc in changes.items()
        ]
        meta = {
            "closedThrough": part.detector.closed_through,
            "offset": part.position,
            "replayFrom": part.replay_from(),
            "watermark": part.watermark.to_json(),
        }
        records.append((state_key(tp, META), orjson.dumps(meta)))
        if part.snapshot_kept:
            records.append((f"{tp.topic}:{tp.partition}".encode(), None))
            part.snapshot_kept = False
        await self._send_all((topic, value, key, None, partition) for key, value in records)

    async def _send_all(
        self, records: Iterable[tuple[str, bytes | None, bytes, Any, int | None]]
    ) -> None:
        """Send in order and wait for all; retried until the broker takes them."""
        batch = list(records)

        async def send() -> None:
            sent = [
                await self._producer.send(
                    topic, value, key=key, headers=headers, partition=partition
                )
                for topic, value, key, headers, partition in batch
            ]
            await asyncio.gather(*sent)

        def retrying(exc: BaseException, delay: float) -> None:
            log.warning("insights_send_retrying", error=repr(exc), retry_in=round(delay, 2))

        if batch:
            await retry_async(send, OWN_BROKER, on_retry=retrying)

    async def _emit(self, events: list[InsightEvent]) -> None:
        trails = self.registry.trails
        with_insights = (
            trails.insight_trails() if hasattr(trails, "insight_trails") else list(trails.values())
        )
        organizations = self.registry.organizations
        routed = self.settings.topics.routed
        out = []
        for event in events:
            self.metrics.insights_events.labels(event.state, event.key.insight_type).inc()
            value = orjson.dumps(event.to_record())
            headers = [
                ("eventTime", event.event_time.encode()),
                ("eventID", event.event_id.encode()),
            ]
            targets = destinations(event, with_insights, organizations)
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
                out.append((routed, value, dest.key(), headers, None))
        await self._send_all(out)


def create(settings: Settings, registry: Any, metrics: Metrics) -> InsightsStage:
    return InsightsStage(settings, registry, metrics)
