"""The local broker's retention: records every consumer has read are deleted.

    python -m recorder.stack.retention --bootstrap HOST:PORT --port P --margin SECONDS

noida-db keeps each topic's whole log in memory and, while anything changes, saves
all of it every couple of seconds as one JSON file (``kafka.json``, each byte of a
record batch written as a decimal number). Its cost therefore grows with what it
holds, not with what it is sent: in a 60-s load test at 5,000 events/s the broker
went from 11 % of a core to 61 % as ``kafka.json`` grew past 130 MB, and the router
got no CPU at all for whole seconds while a save held the broker. A Kafka broker
deletes whole segment files by age (``retention.ms``) at no cost per record held;
the embedded one gets this process instead.

Every ``interval`` it reads the committed offsets of every consumer group, and for
each transit topic (``api-events``, ``routed``) deletes, per partition, the records
before the lowest offset any group has committed there, as that offset stood
``margin`` seconds ago (Kafka's DeleteRecords). A record is therefore deleted only
when every group that reads the partition has read it and committed past it at
least ``margin`` seconds earlier: nothing a consumer still has to read goes, and
the records just behind each commit stay for the routers' and writers' dedupe
recall (``recorder.routing.service``, ``recorder.delivery.writer``: what they read
again before their committed offset when a partition is gained). A partition the
topic's own stage (the router for ``api-events``, the writer for ``routed``) has
never committed is not touched. Every other topic is kept whole: the compacted ones
(the trail registry, digest chains, status), the dead-letter topic, and the parked
batches of ``routed-retry`` (:func:`transit_topics`).

Pure decisions (:func:`low_marks`, :class:`Untrusted`, :class:`Horizon`,
:func:`deletions`) are apart from the loop that reads offsets and deletes
(:class:`Retention`), and are unit-tested without a broker.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete
from aiokafka.errors import KafkaError

from recorder.delivery.writer import GROUP_ID as WRITER_GROUP
from recorder.obs.http import app, serve
from recorder.obs.logging import configure, get_logger
from recorder.obs.metrics import Metrics
from recorder.routing.service import GROUP_ID as ROUTER_GROUP
from recorder.settings import Topics

log = get_logger("recorder.stack.retention")

#: Seconds between two passes.
INTERVAL = 1.0
#: Seconds between two log lines of what was deleted (a pass deletes every second).
LOG_EVERY = 60.0

Offsets = Mapping[TopicPartition, int]


def transit_topics(topics: Topics) -> dict[str, str]:
    """Each topic whose read records may go, with the group that must have read them.

    Not ``routed-retry``: its parking lot commits at its latest index checkpoint, and
    the parked batches that checkpoint names lie before it (``recorder.delivery.
    retry.ParkingLot.commit``); a commit there does not mean the records before it
    are done. A CI crash run that deleted behind it lost a parked trail's 3,284
    deliveries."""
    return {
        topics.api_events: ROUTER_GROUP,
        topics.routed: WRITER_GROUP,
    }


def low_marks(
    committed: Mapping[str, Offsets],
    topics: Mapping[str, str],
    held: frozenset[TopicPartition] | set[TopicPartition] = frozenset(),
) -> dict[TopicPartition, int]:
    """Per partition of ``topics``, the lowest offset any group committed there; only
    partitions that the topic's own group (``topics[topic]``) has committed, and none
    of ``held`` (:class:`Untrusted`)."""
    lowest: dict[TopicPartition, int] = {}
    for offsets in committed.values():
        for tp, offset in offsets.items():
            if tp.topic in topics and offset >= 0:
                lowest[tp] = min(offset, lowest.get(tp, offset))
    return {
        tp: offset
        for tp, offset in lowest.items()
        if tp not in held and committed.get(topics[tp.topic], {}).get(tp, -1) >= 0
    }


@dataclass
class Untrusted:
    """Commits past the end of their log, and the partitions they hold back.

    A broker that lost records it had acknowledged (noida-db killed before its save)
    comes back with committed offsets past its log's end, and hands those offsets out
    again to new records: a router or writer that gains the partition starts at the
    end (``recorder.kafka.partitions.resume``), but its group's commit still names
    the old offset until it commits anew, and deleting up to it would delete new
    records no one has read. Such a commit is not trusted, on that partition, until
    its group commits a different offset."""

    _stale: dict[tuple[str, TopicPartition], int] = field(default_factory=dict)

    def held(self, committed: Mapping[str, Offsets], ends: Offsets) -> set[TopicPartition]:
        """The partitions on which some group's commit is past the end now, or is
        the same offset that was once past the end."""
        held: set[TopicPartition] = set()
        stale: dict[tuple[str, TopicPartition], int] = {}
        for group, offsets in committed.items():
            for tp, offset in offsets.items():
                if tp not in ends:
                    continue
                key = (group, tp)
                if offset > ends[tp] or self._stale.get(key) == offset:
                    stale[key] = offset
                    held.add(tp)
        self._stale = stale  # a commit no longer listed constrains nothing
        return held


@dataclass
class Horizon:
    """Low marks as they stood over time: :meth:`observe` gives, per partition, the
    mark of ``margin`` seconds ago (never above the mark now, should a group have gone
    back, and nothing for a partition that has no mark now)."""

    margin: float
    _seen: deque[tuple[float, dict[TopicPartition, int]]] = field(default_factory=deque)

    def observe(self, now: float, marks: dict[TopicPartition, int]) -> dict[TopicPartition, int]:
        """Record ``marks`` as of ``now``; returns what may be deleted now."""
        self._seen.append((now, marks))
        cutoff = now - self.margin
        while len(self._seen) > 1 and self._seen[1][0] <= cutoff:
            self._seen.popleft()  # the newest mark at least margin old stays in front
        at, due = self._seen[0]
        if at > cutoff:
            return {}
        return {tp: min(o, marks[tp]) for tp, o in due.items() if tp in marks}


def deletions(due: Offsets, deleted: Offsets) -> dict[TopicPartition, int]:
    """The partitions whose due point is past what was deleted already."""
    return {tp: o for tp, o in due.items() if o > deleted.get(tp, 0)}


@dataclass
class Retention:
    """The loop: read every group's committed offsets, delete what is due."""

    bootstrap_servers: str
    topics: dict[str, str]
    margin: float  # seconds a record stays after every group committed past it
    interval: float = INTERVAL
    metrics: Metrics = field(default_factory=Metrics)

    def __post_init__(self) -> None:
        self._horizon = Horizon(self.margin)
        self._untrusted = Untrusted()
        self._deleted: dict[TopicPartition, int] = {}
        self._admin: AIOKafkaAdminClient | None = None
        self._offsets: AIOKafkaConsumer | None = None  # reads the logs' end offsets
        self._unlogged: dict[str, int] = {}
        self._logged_at = time.monotonic()
        for topic in self.topics:
            self.metrics.retention_deleted.labels(topic)

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                await self.pass_once()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.interval)
        finally:
            await self._close()

    async def pass_once(self) -> dict[TopicPartition, int]:
        """One pass; returns the new low watermarks of the partitions it trimmed."""
        try:
            admin, reader = await self._connect()
            committed = await committed_offsets(admin)
            tps = {
                tp for offsets in committed.values() for tp in offsets if tp.topic in self.topics
            }
            ends = await reader.end_offsets(list(tps)) if tps else {}
            held = self._untrusted.held(committed, ends)
            marks = low_marks(committed, self.topics, held)
            due = self._horizon.observe(time.monotonic(), marks)
            todo = deletions(due, self._deleted)
            if not todo:
                return {}
            done = await admin.delete_records({tp: RecordsToDelete(o) for tp, o in todo.items()})
        except (KafkaError, OSError, TimeoutError) as exc:
            # the broker restarting, or a partition refused: the next pass tries again
            self.metrics.retention_failures.inc()
            log.warning("retention_pass_failed", error=repr(exc))
            await self._close()
            return {}
        for tp, low in done.items():
            before = self._deleted.get(tp, 0)  # a fresh log starts at offset 0
            if low > before:
                self.metrics.retention_deleted.labels(tp.topic).inc(low - before)
                self._unlogged[tp.topic] = self._unlogged.get(tp.topic, 0) + low - before
                self._deleted[tp] = low
        if time.monotonic() - self._logged_at >= LOG_EVERY:
            self._logged_at = time.monotonic()
            log.info("retention_deleted", records=self._unlogged, margin=self.margin)
            self._unlogged = {}
        return done

    async def _connect(self) -> tuple[AIOKafkaAdminClient, AIOKafkaConsumer]:
        if self._admin is None or self._offsets is None:
            await self._close()
            admin = AIOKafkaAdminClient(
                bootstrap_servers=self.bootstrap_servers, request_timeout_ms=5000
            )
            reader = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap_servers, request_timeout_ms=5000
            )
            self._admin, self._offsets = admin, reader
            await admin.start()
            await reader.start()
        return self._admin, self._offsets

    async def _close(self) -> None:
        admin, reader, self._admin, self._offsets = self._admin, self._offsets, None, None
        if admin is not None:
            with contextlib.suppress(Exception):
                await admin.close()
        if reader is not None:
            with contextlib.suppress(Exception):
                await reader.stop()


async def committed_offsets(admin: AIOKafkaAdminClient) -> dict[str, dict[TopicPartition, int]]:
    """Every consumer group's committed offsets."""
    out: dict[str, dict[TopicPartition, int]] = {}
    for group in await admin.list_consumer_groups():
        group_id = group[0]
        offsets = await admin.list_consumer_group_offsets(group_id)
        out[group_id] = {tp: om.offset for tp, om in offsets.items()}
    return out


async def _main(args: argparse.Namespace) -> None:
    configure()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    retention = Retention(
        args.bootstrap, transit_topics(Topics()), margin=args.margin, interval=args.interval
    )
    runner = await serve(app(retention.metrics, ready=lambda: True), "127.0.0.1", args.port)
    log.info("retention_started", bootstrap=args.bootstrap, margin=args.margin)
    try:
        await retention.run(stop)
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m recorder.stack.retention", description=__doc__)
    ap.add_argument("--bootstrap", required=True, help="the local broker, host:port")
    ap.add_argument("--port", type=int, required=True, help="the /metrics port")
    ap.add_argument("--margin", type=float, required=True, help="seconds kept after a commit")
    ap.add_argument("--interval", type=float, default=INTERVAL, help="seconds between passes")
    asyncio.run(_main(ap.parse_args(argv)))


if __name__ == "__main__":
    main()
