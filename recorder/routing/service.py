"""The router service: ``api-events`` in, one ``routed`` record per delivery out.

Consume-transform-produce. Where the broker supports transactions the routed
records and the consumed offsets commit atomically (exactly once); elsewhere it runs
at least once and the writer drops repeats of an eventID within a file. Repeats of
an eventID within a recent window (e.g. the producer replaying its journal after a
time-out that had in fact succeeded) are dropped here too.

Each event is admitted (:mod:`recorder.provenance.admission`: its producer's
signature over the bytes first, then the accounts its key may write for) and routed by
its routing fields (:func:`recorder.routing.rule.decide_all`: the signed ``recorder-route``
header, so an event no trail selects is never decoded); an event some trail selects
is decoded, checked against its header and the guide's rules, and rendered to
CloudTrail JSON once, whatever the number of trails it goes to. A record refused on
the way goes to the dead-letter topic with its reason (naming the producer key, never
its secret), is counted per key, and the partition moves on.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
from aiokafka import TopicPartition
from aiokafka.errors import IllegalStateError, KafkaError
from aiokafka.structs import OffsetAndMetadata

from recorder.events import EventDecodeError, InvalidEventError, render_record
from recorder.kafka import clients
from recorder.kafka.dlq import INVALID, REJECTED, UNDECODABLE, expect, send_dead_letter
from recorder.kafka.lag import record_lag
from recorder.kafka.pacing import Pacer, Pauses
from recorder.kafka.partitions import OwnerListener, read_range, resume
from recorder.kafka.watermarks import WATERMARK_HEADER, Mark, SourceProgress
from recorder.obs.logging import get_logger
from recorder.obs.metrics import Metrics
from recorder.provenance import Rejected
from recorder.provenance.admission import Routable, admit_routing
from recorder.provenance.keys import WatchedProducerKeys
from recorder.retry import BROKER_LOOP, FailureStreak
from recorder.routing.owners import (
    NO_OWNERS,
    BucketOwners,
    reaches_other_accounts,
    with_known_owners,
)
from recorder.routing.produce import BatchedSend, PartitionOf
from recorder.routing.rule import Refusal, decide_all
from recorder.routing.shared import copy_event_id, shared_event_id
from recorder.settings import Settings
from recorder.trails.destination import Destination

log = get_logger("recorder.router")

GROUP_ID = "recorder-router"
DEDUPE_WINDOW = 200_000
#: Records one poll may bring: one transaction (or commit) each.
POLL_RECORDS = 2000
#: Record batches of routed records: large, since one is built per partition per poll.
ROUTED_BATCH_BYTES = 1024 * 1024


class Engine(Protocol):
    owners: BucketOwners

    def route(
        self, record: Mapping[str, Any], produced_ms: int | None = None
    ) -> Sequence[Destination]: ...


@dataclass
class Router:
    settings: Settings
    engine: Callable[[], Engine]  # the current compiled engine; swapped on trail changes
    metrics: Metrics = field(default_factory=Metrics)
    group_id: str = GROUP_ID
    transactions: bool | None = None  # None: use them when the broker supports them
    #: Awaited before each batch is routed: brings the trail registry up to the end
    #: of `trails` as it is now, so an event made after a trail change returned (a
    #: StartLogging, a new selector) is routed by the changed trail, however the
    #: registry's own reading is paced.
    fresh: Callable[[], Awaitable[None]] | None = None
    #: The producers file (RECORDER_PRODUCERS_FILE): who may write for which accounts.
    producers: WatchedProducerKeys | None = None

    def __post_init__(self) -> None:
        if self.transactions is None and not self.settings.router_transactions:
            self.transactions = False
        # Per owned partition: the recent eventIDs. A partition is routed only while
        # it has a window (assigned, window recalled) - the owned set.
        self._recent: dict[int, OrderedDict[str, None]] = {}
        self._routing = asyncio.Lock()  # held while a batch is routed and committed
        self.ready = asyncio.Event()
        self._partition_of: PartitionOf | None = None
        self._failures = FailureStreak(BROKER_LOOP)  # batches that failed in a row
        expect(self.metrics, "router", UNDECODABLE, INVALID, REJECTED)
        self._progress: dict[int, SourceProgress] = {}  # owned partition -> routed until
        self._next_mark = 0.0

    async def run(self, stop: asyncio.Event) -> None:
        s = self.settings
        if self.producers is None:
            self.producers = s.admission_keys(self.metrics.producer_keys_reloads)
        self._consumer = clients.consumer(s, group_id=self.group_id, max_poll_records=POLL_RECORDS)
        pauses = Pauses(self._consumer)
        pacer = Pacer(self._consumer, pauses, s.poll_linger, POLL_RECORDS)
        self._producer = await self._start_producer()
        self._dlq_producer = clients.producer(s)
        await self._dlq_producer.start()
        await self._consumer.start()
        static = await clients.join(
            self._consumer, s, s.topics.api_events, OwnerListener(self), pauses
        )
        if static is not None:
            await self.assign(static)
        self.ready.set()
        log.info("router_started", transactions=self.transactions)
        try:
            last_lag = 0.0
            while not stop.is_set():
                batches = await pacer.poll()
                if batches:
                    await self._process(batches)
                await self._publish_marks()
                if time.monotonic() - last_lag > 1.0:
                    last_lag = time.monotonic()
                    await record_lag(self._consumer, self.metrics, "router")
        finally:
            for client in (self._consumer, self._producer, self._dlq_producer):
                with contextlib.suppress(Exception):
                    await client.stop()

    # -- partitions (static: all at start; dynamic: as the group rebalances) ----------
    async def assign(self, partitions: list[TopicPartition]) -> None:
        """Start each partition at its committed offset, with the eventID window refilled
        from the records just before it, so a repeat that arrives after a restart or
        after the partition moved here from another router is still recognised."""
        for tp, r in (await resume(self._consumer, partitions, self.settings)).items():
            self._recent[tp.partition] = await self._recall_recent(tp, r.begin, r.start)
            self._progress[tp.partition] = SourceProgress()
            log.info("partition_assigned", partition=tp.partition, start=r.start, end=r.end)

    async def commit(self) -> None:
        """Before partitions move away: a batch is committed as it is routed, so only
        wait for the one being routed now."""
        async with self._routing:
            pass

    def revoke(self, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            self._recent.pop(tp.partition, None)
            self._progress.pop(tp.partition, None)
            log.info("partition_revoked", partition=tp.partition)

    async def _recall_recent(
        self, tp: TopicPartition, begin: int, committed: int
    ) -> OrderedDict[str, None]:
        recent: OrderedDict[str, None] = OrderedDict()
        start = max(begin, committed - DEDUPE_WINDOW)
        assert self.producers is not None
        keys = self.producers.current()
        async for m in read_range(self.settings, tp, start, committed):
            try:  # only what was admitted was routed: a refused record's id is not taken
                event_id = admit_routing(keys, m.headers, m.key, m.value).fields.get("eventID")
            except (Rejected, EventDecodeError, InvalidEventError):
                continue
            if isinstance(event_id, str):
                recent[event_id] = None
        while len(recent) > DEDUPE_WINDOW:
            recent.popitem(last=False)
        log.info("router_recalled_event_ids", partition=tp.partition, ids=len(recent))
        return recent

    async def _publish_marks(self) -> None:
        """Every ``watermark_interval``: a :class:`~recorder.kafka.watermarks.Mark` in each
        ``routed`` partition saying until when each owned ``api-events`` partition is
        routed. Sent between batches, after the routed records it vouches for were
        acknowledged (and committed), from the plain producer (outside transactions)."""
        now = time.monotonic()
        if now < self._next_mark or not self._progress:
            return
        self._next_mark = now + self.settings.watermark_interval
        source_topic = self.settings.topics.api_events
        times: dict[int, int] = {}
        for partition, progress in list(self._progress.items()):
            tp = TopicPartition(source_topic, partition)
            try:
                progress.sample(
                    self._consumer.highwater(tp), self._consumer.last_poll_timestamp(tp)
                )
                position = await self._consumer.position(tp)
            except (IllegalStateError, AssertionError, KafkaError):
                continue  # no longer assigned
            routed_until = progress.routed(position)
            if routed_until is not None:
                times[partition] = routed_until
        if not times:
            return
        routed_topic = self.settings.topics.routed
        sources = len(self._consumer.partitions_for_topic(source_topic) or ())
        mark = Mark(times, max(sources, max(times) + 1)).to_bytes()
        try:
            futures = [
                await self._dlq_producer.send(
                    routed_topic, mark, partition=p, headers=[(WATERMARK_HEADER, b"1")]
                )
                for p in sorted(await self._dlq_producer.partitions_for(routed_topic))
            ]
            await asyncio.gather(*futures)
        except KafkaError as exc:
            log.warning("watermark_failed", error=repr(exc))  # the next one says as much

    async def _start_producer(self) -> Any:
        s = self.settings
        if self.transactions is not False:
            producer = clients.producer(
                s,
                enable_idempotence=True,
                transactional_id=s.router_transactional_id(),
                max_batch_size=ROUTED_BATCH_BYTES,
                # a transaction left open by a dead process is aborted by the broker
                transaction_timeout_ms=15_000,
            )
            try:
                await asyncio.wait_for(producer.start(), 15)
                self.transactions = True
                return producer
            except (KafkaError, TimeoutError) as exc:
                with contextlib.suppress(Exception):
                    await producer.stop()
                if self.transactions:
                    raise
                log.warning("router_transactions_unavailable", error=repr(exc))
        self.transactions = False
        producer = clients.producer(s, max_batch_size=ROUTED_BATCH_BYTES)
        await producer.start()
        return producer

    async def _process(self, batches: dict[TopicPartition, list[Any]]) -> None:
        async with self._routing:
            # a partition revoked since the poll is not ours to route or commit
            owned = {tp: msgs for tp, msgs in batches.items() if tp.partition in self._recent}
            if owned:
                await self._fresh_registry()
                await self._process_owned(owned)

    async def _fresh_registry(self) -> None:
        if self.fresh is None:
            return
        try:
            await self.fresh()
        except (TimeoutError, KafkaError) as exc:
            # Route by the trails known now rather than stop routing every trail.
            self.metrics.router_stale_registry.inc()
            log.warning("router_registry_stale", error=repr(exc))

    async def _process_owned(self, batches: dict[TopicPartition, list[Any]]) -> None:
        offsets = {tp: OffsetAndMetadata(msgs[-1].offset + 1, "") for tp, msgs in batches.items()}
        added: list[tuple[int, str]] = []
        try:
            if self.transactions:
                async with self._producer.transaction():
                    await self._route_all(batches, added)
                    await self._producer.send_offsets_to_transaction(offsets, self.group_id)
            else:
                await asyncio.gather(*await self._route_all(batches, added))
                await self._consumer.commit(offsets)
        except KafkaError as exc:
            # Nothing of this batch counts as routed: read it again.
            log.warning("router_batch_retry", error=repr(exc), transactions=self.transactions)
            for partition, event_id in added:
                self._recent.get(partition, {}).pop(event_id, None)
            for tp, msgs in batches.items():
                with contextlib.suppress(IllegalStateError):  # no longer assigned
                    self._consumer.seek(tp, msgs[0].offset)
            await asyncio.sleep(self._failures.failed())
        else:
            self._failures.succeeded()

    async def _route_all(
        self, batches: dict[TopicPartition, list[Any]], added: list[tuple[int, str]]
    ) -> list[Any]:
        engine = self.engine()
        routed_topic = self.settings.topics.routed
        if self._partition_of is None:
            count = len(await self._producer.partitions_for(routed_topic))
            self._partition_of = PartitionOf(count)
        out = BatchedSend(self._producer, routed_topic, self._partition_of)
        matches: Counter[str] = Counter()
        events_in = unselected = 0
        assert self.producers is not None
        keys = self.producers.current()
        refused: list[tuple[Any, Refusal]] = []
        for tp, messages in batches.items():
            recent = self._recent[tp.partition]
            events_in += len(messages)
            # One step at a time over the batch (see recorder.routing.rule.decide_all).
            admitted: list[Any] = []
            routables: list[Routable] = []
            for m in messages:
                try:
                    routables.append(admit_routing(keys, m.headers, m.key, m.value))
                except (Rejected, EventDecodeError, InvalidEventError) as exc:
                    refused.append((m, exc))
                    continue
                admitted.append(m)
            # the record's Kafka timestamp: when it was produced (StartLogging)
            decisions = decide_all(engine, routables, [m.timestamp for m in admitted])
            selected: list[tuple[dict[str, Any], str, Sequence[Destination]]] = []
            for m, routable, deliveries in zip(admitted, routables, decisions, strict=True):
                if isinstance(deliveries, Exception):
                    refused.append((m, deliveries))
                    continue
                event_id = routable.fields["eventID"]
                if event_id in recent:
                    self.metrics.router_duplicates.inc()
                    continue
                recent[event_id] = None
                added.append((tp.partition, event_id))
                if len(recent) > DEDUPE_WINDOW:
                    recent.popitem(last=False)
                if not deliveries:
                    unselected += 1
                    continue
                assert routable.record is not None  # decided: the body of a selected event
                selected.append((routable.record, event_id, deliveries))
            rendered = [rendered_for(record, ds, engine.owners) for record, _, ds in selected]
            for (record, event_id, deliveries), values in zip(selected, rendered, strict=True):
                event_time = record["eventTime"].encode()
                recipient = record["recipientAccountId"]
                for d in deliveries:
                    copy_id = copy_event_id(event_id, recipient, d.account_id)
                    headers = [("eventTime", event_time), ("eventID", copy_id.encode())]
                    await out.add(d.key(), values[d.account_id], headers)
                    matches[d.trail_arn] += 1
        for m, exc in refused:
            if isinstance(exc, Rejected):
                kind = REJECTED
                self.metrics.rejected.labels("router", exc.key_id or "-", exc.kind).inc()
            else:
                kind = UNDECODABLE if isinstance(exc, EventDecodeError) else INVALID
            await send_dead_letter(
                self._dlq_producer,
                self.settings.topics.dlq,
                self.metrics,
                m,
                stage="router",
                reason=str(exc),
                kind=kind,
            )
        futures = await out.flush()
        # Counted per batch, not per delivery: a labelled lookup per record is costly.
        self.metrics.router_events_in.inc(events_in)
        self.metrics.router_unselected.inc(unselected)
        self.metrics.router_deliveries_out.inc(out.records)
        for trail_arn, n in matches.items():
            self.metrics.router_matches.labels(trail_arn).inc(n)
        return futures


def rendered_for(
    record: dict[str, Any],
    deliveries: Sequence[Destination],
    owners: BucketOwners = NO_OWNERS,
) -> dict[str, bytes]:
    """The JSON each delivery account receives, rendered once per account.

    A cross-account S3 data event reaches the bucket owner's trails too (``owners``:
    the owners the operator vouches for); the owner's copy names the owner as
    ``recipientAccountId`` (the account that received it) and has its own
    ``eventID``; every copy of such an action carries one ``sharedEventID``
    (:mod:`recorder.routing.shared`), and names the bucket's owner in its resources.
    """
    recipient = record["recipientAccountId"]
    record = with_known_owners(record, owners)
    if "sharedEventID" not in record and reaches_other_accounts(record, owners):
        record = {**record, "sharedEventID": shared_event_id(record["eventID"])}
    base = render_record(record)
    out: dict[str, bytes] = {}
    for d in deliveries:
        if d.account_id in out:
            continue
        if d.account_id == recipient:
            out[d.account_id] = orjson.dumps(base)
        else:
            copy = {
                **base,
                "eventID": copy_event_id(base["eventID"], recipient, d.account_id),
                "recipientAccountId": d.account_id,
            }
            out[d.account_id] = orjson.dumps(copy)
    return out
