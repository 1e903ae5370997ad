"""GetTrailStatus's delivery and digest fields, wherever the writer and digester run.

Writers and digesters keep per-trail status objects in memory (LatestDeliveryTime,
LatestDeliveryError, ...). In a deployment each stage is its own process (the Helm
chart runs one Deployment per stage), so the API cannot read them directly: every
writer and digester publishes its status to the compacted ``trail-status`` topic,
one record per (source, trail, *seat*), when it changes and as a heartbeat; the API
follows the topic and merges what it reads (``TopicStatus``).

A process's seat is the lowest partition it owns of its stage's input topic
(``routed`` for writers, ``delivered`` for digesters): the key names a partition, not
a pod, so a deploy (new pods on the same partitions) writes the same keys again
instead of adding one per trail per pod, and the number of keys is bounded by trails
times partitions. A process whose seat moves (a rebalance) tombstones the keys of its
old seat; a trail that is deleted has its keys tombstoned (by every publisher that
wrote one, and by the API on DeleteTrail); the keys of a pod that died stop
heartbeating and their errors stop counting (below) until the seat's next owner
writes them again. A heartbeat round is one batch of sends, not a round trip per
trail.

Merging several seats of one trail (writers share a trail's partitions): a time is
the latest any seat reports; an error is reported while some seat that is still
heartbeating has it, because one failing writer is a failing delivery even if
another one succeeds.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

import orjson
from aiokafka import TopicPartition
from aiokafka.errors import KafkaError

from recorder.kafka import clients
from recorder.kafka.pacing import Pacer, Pauses
from recorder.obs.logging import get_logger
from recorder.retry import BROKER_LOOP, FailureStreak
from recorder.settings import Settings

log = get_logger("recorder.status")

_MEMBERS = (
    ("LatestDeliveryTime", "latest_delivery_time"),
    ("LatestDeliveryError", "latest_delivery_error"),
    ("LatestNotificationTime", "latest_notification_time"),
    ("LatestNotificationError", "latest_notification_error"),
    ("LatestDigestDeliveryTime", "latest_digest_delivery_time"),
    ("LatestDigestDeliveryError", "latest_digest_delivery_error"),
)
_TIMES = {m for m, _ in _MEMBERS if m.endswith("Time")}


def snapshot(found: Any) -> dict[str, str]:
    """The GetTrailStatus members a status object has set (plain data, for the topic)."""
    out: dict[str, str] = {}
    for member, attr in _MEMBERS:
        value = getattr(found, attr, None)
        if value is not None:
            out[member] = str(value)
    return out


def merge(docs: list[Mapping[str, Any]], now: float, stale_after: float) -> dict[str, str]:
    """One trail's status from what each instance last published (see module doc)."""
    out: dict[str, str] = {}
    for doc in sorted(docs, key=lambda d: float(d.get("publishedAt", 0))):
        fresh = now - float(doc.get("publishedAt", 0)) <= stale_after
        for member, _ in _MEMBERS:
            value = doc.get(member)
            if not isinstance(value, str):
                continue
            if member in _TIMES:
                out[member] = max(out.get(member, ""), value)
            elif fresh:
                out[member] = value
    return out


class CombinedStatus:
    """Status objects of this process (``recorder run all``), over a ``TopicStatus``.

    The in-process objects are the freshest view of this process's own work; the topic
    adds what other processes report.
    """

    def __init__(self, *statuses: Mapping[str, Any], remote: TopicStatus | None = None) -> None:
        self._statuses = statuses
        self._remote = remote

    def forget(self, trail_arn: str) -> None:
        """DeleteTrail: the trail's status keys go (the in-process ones with their
        publishers, which see the trail gone)."""
        if self._remote is not None:
            self._remote.forget(trail_arn)

    def status(self, trail_arn: str, region: str) -> Mapping[str, Any]:
        out: dict[str, Any] = dict(self._remote.status(trail_arn, region)) if self._remote else {}
        for statuses in self._statuses:
            found = statuses.get(trail_arn)
            if found is not None:
                local = snapshot(found)
                for member in _TIMES & local.keys():
                    local[member] = max(local[member], out.get(member, ""))
                out.update(local)
        return out


Seat = Callable[[], int | None]


class StatusPublisher:
    """Publishes one service's per-trail status objects to the ``trail-status`` topic."""

    def __init__(
        self,
        settings: Settings,
        source: str,
        statuses: MutableMapping[str, Any],
        *,
        seat: Seat = lambda: 0,
        exists: Callable[[str], bool] = lambda _: True,
        every: float = 1.0,
        heartbeat: float = 60.0,
    ) -> None:
        self.settings = settings
        self.source = source
        self.statuses = statuses
        self.seat = seat  # the lowest owned partition (None: owns none)
        self.exists = exists  # whether a trail is still there (deleted: tombstone)
        self.every = every
        self.heartbeat = heartbeat
        self._sent: dict[str, tuple[dict[str, str], float]] = {}
        self._seat: int | None = None
        self.ready = asyncio.Event()
        self.ready.set()

    def key(self, trail_arn: str, seat: int | None = None) -> bytes:
        return f"{self.source}|{trail_arn}|p{self._seat if seat is None else seat}".encode()

    def due(self, now: float) -> dict[str, dict[str, str]]:
        """The trails whose status changed, or whose heartbeat is due."""
        out: dict[str, dict[str, str]] = {}
        for arn, found in list(self.statuses.items()):
            doc = snapshot(found)
            last = self._sent.get(arn)
            if last is None or last[0] != doc or now - last[1] >= self.heartbeat:
                out[arn] = doc
        return out

    def plan(self, now: float) -> list[tuple[bytes, bytes | None]]:
        """The records of one round: tombstones for a seat left and for deleted
        trails, then the changed statuses and due heartbeats under the seat."""
        out: list[tuple[bytes, bytes | None]] = []
        seat = self.seat()
        if seat != self._seat:
            if self._seat is not None:
                out += [(self.key(arn), None) for arn in self._sent]
            self._sent.clear()
            self._seat = seat
        for arn in [a for a in self.statuses if not self.exists(a)]:
            del self.statuses[arn]
            if self._sent.pop(arn, None) is not None:
                out.append((self.key(arn), None))
        if seat is None:
            return out
        for arn, doc in self.due(now).items():
            value = orjson.dumps({**doc, "source": self.source, "publishedAt": now})
            out.append((self.key(arn), value))
            self._sent[arn] = (doc, now)
        return out

    async def run(self, stop: asyncio.Event) -> None:
        producer = clients.producer(self.settings)
        started = False
        try:
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.every)
                try:
                    if not started:
                        await producer.start()
                        started = True
                    await self._publish(producer)
                except KafkaError as exc:
                    log.warning("trail_status_publish_failed", error=repr(exc))
        finally:
            if started:
                with contextlib.suppress(Exception):
                    await self._publish(producer)
                with contextlib.suppress(Exception):
                    await producer.stop()

    async def _publish(self, producer: Any) -> None:
        await send_batch(producer, self.settings.topics.trail_status, self.plan(time.time()))


async def send_batch(producer: Any, topic: str, records: list[tuple[bytes, bytes | None]]) -> None:
    """Send every record, then wait for all: one round trip for a round of statuses."""
    sent = [await producer.send(topic, value, key=key) for key, value in records]
    if sent:
        await asyncio.gather(*sent)


class TopicStatus:
    """What every writer and digester last published, for GetTrailStatus.

    Keys of the form ``source|trail|<hostname>`` were written by releases before
    seats: one stale for longer than ``stale_after`` is dropped and tombstoned here,
    so what a deploy of old left behind does not stay in every API replica's memory.
    """

    def __init__(self, settings: Settings, stale_after: float = 180.0) -> None:
        self.settings = settings
        self.stale_after = stale_after
        self._docs: dict[str, dict[bytes, dict[str, Any]]] = {}  # trail ARN -> key -> doc
        self._tombstones: list[bytes] = []  # keys to remove from the topic
        self.ready = asyncio.Event()

    def status(self, trail_arn: str, region: str) -> Mapping[str, Any]:
        docs = list(self._docs.get(trail_arn, {}).values())
        return merge(docs, time.time(), self.stale_after) if docs else {}

    def forget(self, trail_arn: str) -> None:
        """A trail deleted: its status keys are tombstoned (whoever wrote them)."""
        self._tombstones += list(self._docs.pop(trail_arn, {}))

    def apply(self, key: bytes | None, value: bytes | None, now: float | None = None) -> None:
        parts = (key or b"").decode(errors="replace").split("|")
        if len(parts) != 3 or key is None:
            return
        arn = parts[1]
        if value is None:
            docs = self._docs.get(arn)
            if docs is not None:
                docs.pop(key, None)
                if not docs:
                    del self._docs[arn]
            return
        try:
            doc = orjson.loads(value)
        except orjson.JSONDecodeError:
            log.warning("trail_status_bad_value", trail_arn=arn)
            return
        if not isinstance(doc, dict):
            return
        if _SEAT.fullmatch(parts[2]) is None and self._stale(doc, now):
            self._tombstones.append(key)  # a pod's key of an older release, gone quiet
            return
        self._docs.setdefault(arn, {})[key] = doc

    def _stale(self, doc: Mapping[str, Any], now: float | None) -> bool:
        at = doc.get("publishedAt")
        when = time.time() if now is None else now
        return not isinstance(at, int | float) or when - at > self.stale_after

    def sweep(self, now: float) -> None:
        """Drop (and tombstone) older releases' per-pod keys that went quiet since."""
        for arn, docs in list(self._docs.items()):
            for key, doc in list(docs.items()):
                tail = key.rsplit(b"|", 1)[-1].decode(errors="replace")
                if _SEAT.fullmatch(tail) is None and self._stale(doc, now):
                    del docs[key]
                    self._tombstones.append(key)
            if not docs:
                del self._docs[arn]

    def keys(self) -> int:
        return sum(len(d) for d in self._docs.values())

    async def run(self, stop: asyncio.Event) -> None:
        tp = TopicPartition(self.settings.topics.trail_status, 0)
        consumer = clients.consumer(self.settings, group_id=None)
        producer = clients.producer(self.settings)
        await consumer.start()
        started = False
        try:
            consumer.assign([tp])
            await consumer.seek_to_beginning(tp)
            pacer = Pacer(consumer, Pauses(consumer), self.settings.poll_linger, 5000)
            self.ready.set()
            failures = FailureStreak(BROKER_LOOP)
            swept = time.monotonic()
            while not stop.is_set():
                try:
                    batch = await pacer.poll(tp, timeout_ms=500)
                    for m in batch.get(tp, []):
                        self.apply(m.key, m.value)
                    if time.monotonic() - swept > self.stale_after / 3:
                        swept = time.monotonic()
                        self.sweep(time.time())
                    if self._tombstones:
                        if not started:
                            await producer.start()
                            started = True
                        gone, self._tombstones = self._tombstones, []
                        await send_batch(
                            producer, self.settings.topics.trail_status, [(k, None) for k in gone]
                        )
                except KafkaError as exc:
                    log.warning("trail_status_read_failed", error=repr(exc))
                    await asyncio.sleep(failures.failed())
                    continue
                failures.succeeded()
        finally:
            with contextlib.suppress(Exception):
                await consumer.stop()
            if started:
                with contextlib.suppress(Exception):
                    await producer.stop()


#: The last part of a status key written by seat (``p<partition>``).
_SEAT = re.compile(r"p\d+")
