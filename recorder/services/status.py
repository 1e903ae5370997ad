"""GetTrailStatus's delivery and digest fields, wherever the writer and digester run.

Writers and digesters keep per-trail status objects in memory (LatestDeliveryTime,
LatestDeliveryError, ...). In a deployment each stage is its own process (the Helm
chart runs one Deployment per stage), so the API cannot read them directly: every
writer and digester publishes its status to the compacted ``trail-status`` topic, one
record per (source, trail, instance), when it changes and as a heartbeat; the API
follows the topic and merges what it reads (``TopicStatus``).

Merging several instances of one trail (writers share a trail's partitions): a time
is the latest any instance reports; an error is reported while some instance that is
still heartbeating has it, because one failing writer is a failing delivery even if
another one succeeds.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections.abc import Mapping
from typing import Any

import orjson
from aiokafka import TopicPartition
from aiokafka.errors import KafkaError

from recorder.kafka import clients
from recorder.kafka.pacing import Pacer, Pauses
from recorder.obs.logging import get_logger
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


def instance_id() -> str:
    """Stable across restarts of one pod or host; distinct between replicas."""
    return os.environ.get("HOSTNAME") or socket.gethostname()


class StatusPublisher:
    """Publishes one service's per-trail status objects to the ``trail-status`` topic."""

    def __init__(
        self,
        settings: Settings,
        source: str,
        statuses: Mapping[str, Any],
        *,
        every: float = 1.0,
        heartbeat: float = 60.0,
    ) -> None:
        self.settings = settings
        self.source = source
        self.statuses = statuses
        self.every = every
        self.heartbeat = heartbeat
        self.instance = instance_id()
        self._sent: dict[str, tuple[dict[str, str], float]] = {}
        self.ready = asyncio.Event()
        self.ready.set()

    def due(self, now: float) -> dict[str, dict[str, str]]:
        """The trails whose status changed, or whose heartbeat is due."""
        out: dict[str, dict[str, str]] = {}
        for arn, found in list(self.statuses.items()):
            doc = snapshot(found)
            last = self._sent.get(arn)
            if last is None or last[0] != doc or now - last[1] >= self.heartbeat:
                out[arn] = doc
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
        now = time.time()
        for arn, doc in self.due(now).items():
            value = orjson.dumps({**doc, "source": self.source, "publishedAt": now})
            key = f"{self.source}|{arn}|{self.instance}".encode()
            await producer.send_and_wait(self.settings.topics.trail_status, value, key=key)
            self._sent[arn] = (doc, now)


class TopicStatus:
    """What every writer and digester last published, for GetTrailStatus."""

    def __init__(self, settings: Settings, stale_after: float = 180.0) -> None:
        self.settings = settings
        self.stale_after = stale_after
        self._docs: dict[str, dict[str, dict[str, Any]]] = {}  # trail ARN -> key -> doc
        self.ready = asyncio.Event()

    def status(self, trail_arn: str, region: str) -> Mapping[str, Any]:
        docs = list(self._docs.get(trail_arn, {}).values())
        return merge(docs, time.time(), self.stale_after) if docs else {}

    def apply(self, key: bytes | None, value: bytes | None) -> None:
        parts = (key or b"").decode(errors="replace").split("|")
        if len(parts) != 3:
            return
        arn = parts[1]
        if value is None:
            self._docs.get(arn, {}).pop(parts[0] + "|" + parts[2], None)
            return
        try:
            doc = orjson.loads(value)
        except orjson.JSONDecodeError:
            log.warning("trail_status_bad_value", trail_arn=arn)
            return
        if isinstance(doc, dict):
            self._docs.setdefault(arn, {})[parts[0] + "|" + parts[2]] = doc

    async def run(self, stop: asyncio.Event) -> None:
        tp = TopicPartition(self.settings.topics.trail_status, 0)
        consumer = clients.consumer(self.settings, group_id=None)
        await consumer.start()
        try:
            consumer.assign([tp])
            await consumer.seek_to_beginning(tp)
            pacer = Pacer(consumer, Pauses(consumer), self.settings.poll_linger, 5000)
            self.ready.set()
            while not stop.is_set():
                try:
                    batch = await pacer.poll(tp, timeout_ms=500)
                except KafkaError as exc:
                    log.warning("trail_status_read_failed", error=repr(exc))
                    await asyncio.sleep(1)
                    continue
                for m in batch.get(tp, []):
                    self.apply(m.key, m.value)
        finally:
            with contextlib.suppress(Exception):
                await consumer.stop()
