"""The aggregation stage: ``routed`` in, aggregated events onto ``routed`` out.

It reads what the router gave each trail (one partition of ``routed`` holds whole
destinations), counts the data events of destinations whose trail has
``AggregationConfigurations`` (:mod:`recorder.aggregation.summary`), and when a window
closes hands its summaries to the writer as routed records with an Aggregated
destination, so they are delivered like every other log file (gzip, SSE, SNS,
manifest, digest) under ``CloudTrail-Aggregated/``.

Exactly once, after any crash, as the Insights stage does it: closing windows writes
the partition's whole state (open windows with the eventIDs counted, the offset read
to) and the summaries just decided as one record on the compacted
``aggregation-state`` topic; only then are the summaries sent. A restarted stage
restores that state, sends the recorded summaries again (their eventIDs are derived,
so the writer keeps one copy) and reads on from the recorded offset.

Windows close by event time, on the routers' marks (:mod:`recorder.kafka.watermarks`):
a mark read in a ``routed`` partition vouches that every event appended to
``api-events`` before its time has been routed, and precedes it. A window closes once
the marks of its partition pass its end by ``aggregation_lateness`` (what a producer
may take between an event's time and its append: batching, a short outage journaled).
Neither the wall clock nor the newest eventTime read may decide it: both close a
window while its events can still be on their way (a loaded router, a replacement
stage reading its partition again), which makes those events late and the summary
short. Routers mark idle partitions too, so a quiet trail's last window still closes;
while no router runs, windows wait, as the events do.

The trail's templates are read from the registry as it is when a batch is read (as the
router routes): an event made after PutEventConfiguration returned is counted.
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

from recorder.aggregation.summary import Aggregator, Call, is_data_event
from recorder.aws.times import parse_seconds
from recorder.kafka import clients
from recorder.kafka.lag import record_lag
from recorder.kafka.pacing import Pacer, Pauses
from recorder.kafka.partitions import OwnerListener, read_range
from recorder.kafka.watermarks import Mark, RoutedUntil, is_watermark
from recorder.obs.logging import get_logger
from recorder.obs.metrics import Metrics
from recorder.retry import OWN_BROKER, retry_async
from recorder.settings import Settings
from recorder.trails.destination import Destination

log = get_logger("recorder.aggregation")

GROUP_ID = "recorder-aggregation"
POLL_RECORDS = 5000
STATE_LOAD_TIMEOUT = 60.0  # seconds to read aggregation-state to its end at an assignment


@dataclass
class _Partition:
    aggregator: Aggregator
    position: int  # next offset of routed to read
    routed: RoutedUntil = field(default_factory=RoutedUntil)  # the router marks read


@dataclass
class AggregationStage:
    settings: Settings
    registry: Any  # TrailRegistry: .trails (ARN -> Trail)
    metrics: Metrics = field(default_factory=Metrics)
    group_id: str = GROUP_ID

    def __post_init__(self) -> None:
        self.window = self.settings.aggregation_window_seconds
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
        self._producer: AIOKafkaProducer = clients.producer(s, compression_type="gzip")
        await self._producer.start()
        await self._consumer.start()
        try:
            static = await clients.join(
                self._consumer, s, s.topics.routed, OwnerListener(self), self._pauses
            )
            if static is not None:
                await self.assign(static)  # dynamic: ready at the group's first assignment
            log.info(
                "aggregation_started",
                window_seconds=self.window,
                lateness=s.aggregation_lateness,
            )
            last_lag = 0.0
            while not stop.is_set():
                await self._poll_once()
                await self._close_due()
                if time.monotonic() - last_lag > 1.0:
                    last_lag = time.monotonic()
                    await record_lag(self._consumer, self.metrics, "aggregation")
            await self.commit()
        finally:
            with contextlib.suppress(Exception):
                await self._consumer.stop()
            with contextlib.suppress(Exception):
                await self._producer.stop()

    # -- partitions --------------------------------------------------------------------
    async def assign(self, partitions: list[TopicPartition]) -> None:
        """Restore each partition's windows from its last state record, send again the
        summaries that record decided, and read on from its offset. A partition with no
        state starts at the log end (like turning aggregation on: no history), and records
        that start at once. Ready once the first assignment is done: a stage that is
        ready has taken its partitions' starting points."""
        if not partitions:  # a group with more members than partitions: none here
            self.ready.set()
            return
        async with self._lock:
            saved = await self._load_states({tp.partition for tp in partitions})
            ends = await self._consumer.end_offsets(partitions)
            for tp in partitions:
                doc = saved.get(tp.partition)
                if doc is None:
                    part = _Partition(Aggregator(self.window), ends[tp])
                    replay: list[Any] = []
                    # where counting starts is state too: a stage killed before its
                    # first window closed is replaced from here, not from a later end
                    await self._save(tp, part, [])
                else:
                    part = _Partition(
                        Aggregator.restore(self.window, doc["aggregator"]),
                        int(doc["offset"]),
                        RoutedUntil.from_json(doc.get("routed")),
                    )
                    replay = [
                        (Destination.from_key(e["key"].encode()), e["record"])
                        for e in doc.get("events", [])
                    ]
                self._consumer.seek(tp, part.position)
                self._parts[tp] = part
                if replay:
                    await self._emit(replay)
                log.info(
                    "aggregation_partition_assigned",
                    partition=tp.partition,
                    start=part.position,
                    restored=doc is not None,
                    resent=len(replay),
                )
        self.ready.set()

    def revoke(self, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            self._parts.pop(tp, None)

    async def commit(self) -> None:
        """Before partitions move (and at stop): record every partition's state."""
        async with self._lock:
            for tp, part in list(self._parts.items()):
                await self._save(tp, part, [])

    async def _load_states(self, wanted: set[int]) -> dict[int, dict[str, Any]]:
        """The saved state of these ``routed`` partitions: all of ``aggregation-state``
        is read (:func:`read_range`, to its end however slow the broker: a state read
        short would restore an older state, or none, and start at the log end, losing
        what came since)."""
        tp = TopicPartition(self.settings.topics.aggregation_state, 0)
        out: dict[int, dict[str, Any]] = {}
        async for m in read_range(self.settings, tp, give_up_after=STATE_LOAD_TIMEOUT):
            partition = _partition_of_key(m.key, self.settings.topics.routed)
            if partition in wanted:
                if m.value is None:
                    out.pop(partition, None)
                else:
                    out[partition] = orjson.loads(m.value)
        return out

    # -- reading -----------------------------------------------------------------------
    async def _poll_once(self) -> None:
        batches = await self._pacer.poll()
        if not batches:
            return
        await self._fresh_registry()
        async with self._lock:
            for tp, messages in batches.items():
                part = self._parts.get(tp)
                if part is not None:
                    self._observe(tp, part, messages)

    async def _fresh_registry(self) -> None:
        fresh = getattr(self.registry, "fresh", None)
        if fresh is None:
            return
        try:
            await fresh()
        except (TimeoutError, KafkaError) as exc:
            # count by the trails known now rather than stop counting every trail
            log.warning("aggregation_registry_stale", error=repr(exc))

    def _templates(self, dest: Destination) -> tuple[str, ...]:
        trail = self.registry.trails.get(dest.trail_arn)
        return () if trail is None else tuple(trail.aggregation_templates)

    def _observe(self, tp: TopicPartition, part: _Partition, messages: list[Any]) -> None:
        outcomes = {"counted": 0, "duplicate": 0, "late": 0}
        wanted: dict[bytes, bool] = {}
        for m in messages:
            part.position = m.offset + 1
            if is_watermark(m.headers):
                try:
                    part.routed.on_mark(Mark.from_bytes(m.value or b""))
                except ValueError as exc:
                    log.warning(
                        "bad_watermark", partition=tp.partition, offset=m.offset, error=str(exc)
                    )
                continue
            key = m.key or b""
            aggregate = wanted.get(key)
            if aggregate is None:
                try:
                    dest = Destination.from_key(key)
                except ValueError:
                    aggregate = False
                else:
                    aggregate = not dest.kind and bool(self._templates(dest))
                wanted[key] = aggregate
            if not aggregate:
                continue
            try:
                record = orjson.loads(m.value or b"")
                epoch = parse_seconds(str(record.get("eventTime", ""))).timestamp()
            except (orjson.JSONDecodeError, ValueError, AttributeError):
                continue  # the writer's cut markers; the writer dead-letters the rest
            if not is_data_event(record):
                continue
            outcome = part.aggregator.observe(
                key, epoch, str(record.get("eventID") or ""), Call.of(record)
            )
            outcomes[outcome] += 1
        for outcome, n in outcomes.items():
            if n:
                self.metrics.aggregation_events.labels(outcome).inc(n)
        if outcomes["late"]:
            log.warning(
                "aggregation_events_late",
                partition=tp.partition,
                events=outcomes["late"],
                closed_through=part.aggregator.closed_through,
            )

    # -- deciding ----------------------------------------------------------------------
    async def _close_due(self) -> None:
        async with self._lock:
            for tp, part in list(self._parts.items()):
                agg = part.aggregator
                routed_until = part.routed.until()
                if not agg.windows or routed_until is None:
                    continue  # nothing open, or no mark yet for every api-events partition
                limit = routed_until / 1000 - self.settings.aggregation_lateness
                if agg.window_of(limit) - self.window < min(s for _, s in agg.windows):
                    continue  # no open window has ended long enough ago
                decided = agg.close_through(limit, self._templates)
                await self._save(tp, part, decided)
                if decided:
                    await self._emit(decided)
                self.metrics.aggregation_open_windows.set(
                    sum(len(p.aggregator.windows) for p in self._parts.values())
                )

    async def _save(
        self, tp: TopicPartition, part: _Partition, decided: list[tuple[Destination, Any]]
    ) -> None:
        doc = {
            "offset": part.position,
            "routed": part.routed.to_json(),
            "aggregator": part.aggregator.snapshot(),
            "events": [{"key": d.key().decode(), "record": r} for d, r in decided],
        }
        await self._retry(
            lambda: self._producer.send_and_wait(
                self.settings.topics.aggregation_state,
                orjson.dumps(doc),
                key=f"{tp.topic}:{tp.partition}".encode(),
                partition=0,
            )
        )

    async def _emit(self, decided: list[tuple[Destination, dict[str, Any]]]) -> None:
        routed = self.settings.topics.routed

        async def send_all() -> None:
            sent = []
            for dest, record in decided:
                headers = [
                    ("eventTime", record["timeWindow"]["windowStart"].encode()),
                    ("eventID", record["eventId"].encode()),
                ]
                sent.append(
                    await self._producer.send(
                        routed, orjson.dumps(record), key=dest.key(), headers=headers
                    )
                )
            await asyncio.gather(*sent)

        for dest, record in decided:
            self.metrics.aggregation_summaries.inc()
            log.info(
                "aggregated_event",
                event_id=record["eventId"],
                trail_arn=dest.trail_arn,
                account_id=dest.account_id,
                region=dest.region,
                event_source=record["eventSource"],
                window_start=record["timeWindow"]["windowStart"],
                dimension=record["summary"]["primaryDimension"]["dimension"],
            )
        if decided:
            await self._retry(send_all)

    async def _retry(self, op: Any) -> None:
        def retrying(exc: BaseException, delay: float) -> None:
            log.warning("aggregation_send_retrying", error=repr(exc), retry_in=round(delay, 2))

        await retry_async(op, OWN_BROKER, on_retry=retrying)


def _partition_of_key(key: bytes | None, topic: str) -> int | None:
    if not key:
        return None
    name, _, number = key.decode(errors="replace").rpartition(":")
    if name != topic or not number.isdigit():
        return None
    return int(number)


def create(settings: Settings, registry: Any, metrics: Metrics) -> AggregationStage:
    return AggregationStage(settings, registry, metrics)
