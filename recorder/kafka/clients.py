"""aiokafka clients configured from :class:`Settings`, the same way in every service."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

from recorder.kafka.pacing import HANDOVER, Pauses
from recorder.obs.logging import get_logger
from recorder.settings import Settings, compression_kwargs, kafka_security_kwargs

log = get_logger("recorder.kafka")


def producer(settings: Settings, **overrides: Any) -> AIOKafkaProducer:
    kwargs: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "acks": "all",
        "linger_ms": 5,
        "max_request_size": 16 * 1024 * 1024,
        **compression_kwargs(settings),
        **kafka_security_kwargs(settings),
    }
    kwargs.update(overrides)
    return AIOKafkaProducer(**kwargs)


async def started_producer(settings: Settings, stage: str) -> AIOKafkaProducer:
    """A started producer, idempotent where the broker has it. Without it (tansu) a
    retried send may write a record twice; the markers stages write are idempotent
    in effect (a repeat names what the first one took), so they work either way."""
    idempotent = producer(settings, enable_idempotence=True)
    try:
        await asyncio.wait_for(idempotent.start(), 15)
        return idempotent
    except (KafkaError, TimeoutError) as exc:
        with contextlib.suppress(Exception):
            await idempotent.stop()
        log.warning("idempotence_unavailable", stage=stage, error=repr(exc))
    plain = producer(settings)
    await plain.start()
    return plain


def consumer(settings: Settings, *topics: str, group_id: str, **overrides: Any) -> AIOKafkaConsumer:
    kwargs: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "group_id": group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "isolation_level": "read_committed",
        "max_partition_fetch_bytes": 16 * 1024 * 1024,
        "fetch_max_bytes": 64 * 1024 * 1024,
        # A killed member's partitions move on after 6 s (the usual broker minimum).
        "session_timeout_ms": 6000,
        "heartbeat_interval_ms": 2000,
        # The fetcher's idle wake-up. It wakes at once for everything it serves (a fetch
        # back, records consumed, a seek, a resume, a lost assignment); the timeout only
        # bounds a wait with nothing to do, which at aiokafka's 200 ms made every consumer
        # wake 5 times a second for nothing: a cost per consumer, so per process.
        "consumer_timeout_ms": 2000,
        **kafka_security_kwargs(settings),
    }
    kwargs.update(overrides)
    return AIOKafkaConsumer(*topics, **kwargs)


async def join(
    consumer: AIOKafkaConsumer,
    settings: Settings,
    topic: str,
    listener: ConsumerRebalanceListener | None = None,
    pauses: Pauses | None = None,
) -> list[TopicPartition] | None:
    """Take partitions of ``topic`` as ``settings.group_membership`` says.

    Call after ``consumer.start()``. Dynamic: subscribe, and the listener hears of
    assignments as the group rebalances (through :class:`HandOver`, which keeps the
    partitions concerned paused meanwhile); returns None. Static: assign the configured
    partitions (all by default) and return them; the caller treats them as
    assigned. Offsets are committed to the group either way, so a restarted
    process, static or dynamic, continues where the last one committed.
    """
    if settings.group_membership == "dynamic":
        if listener is None:
            consumer.subscribe([topic])
        else:
            consumer.subscribe(
                [topic], listener=HandOver(consumer, listener, pauses or Pauses(consumer))
            )
        return None
    wanted = settings.static_partitions()
    await consumer.topics()  # fetches cluster metadata
    available = sorted(consumer.partitions_for_topic(topic) or [])
    if not available:
        raise RuntimeError(f"topic {topic!r} has no partitions (is it created?)")
    chosen = [p for p in available if wanted is None or p in wanted]
    tps = [TopicPartition(topic, p) for p in chosen]
    consumer.assign(tps)
    return tps


class HandOver(ConsumerRebalanceListener):  # type: ignore[misc]
    """Wraps a service's rebalance listener so no record of a partition in hand-over
    reaches the service's poll loop, which keeps running meanwhile.

    Revoked partitions are paused before the service's ``on_partitions_revoked`` (it
    commits and drops their state; nothing may arrive for them after that). Assigned
    partitions are paused until the service's ``on_partitions_assigned`` has built
    their state and sought to the replay point: a record polled before that would be
    dropped, or read from the wrong offset. That callback runs as a task, because
    aiokafka calls it with the heartbeat stopped and rebuilding state (reading a
    window of the log back) can outlast the session time-out; a revocation that comes
    first cancels it. If it fails, its partitions stay paused (lag shows it) until the
    next rebalance: never read without state.
    """

    def __init__(
        self, consumer: AIOKafkaConsumer, listener: ConsumerRebalanceListener, pauses: Pauses
    ) -> None:
        self._consumer = consumer
        self._listener = listener
        self._pauses = pauses
        self._assigning: asyncio.Task[None] | None = None

    def _pause(self, partitions: list[TopicPartition]) -> list[TopicPartition]:
        return self._pauses.hold(HANDOVER, partitions)

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        task, self._assigning = self._assigning, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._pause(list(revoked))
        await self._listener.on_partitions_revoked(revoked)
        self._pauses.forget(revoked)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        partitions = self._pause(list(assigned))
        self._assigning = asyncio.create_task(self._assign(partitions))

    async def _assign(self, partitions: list[TopicPartition]) -> None:
        try:
            await self._listener.on_partitions_assigned(partitions)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.error(
                "partitions_assign_failed",
                partitions=sorted(tp.partition for tp in partitions),
                error=repr(exc),
                exc_info=exc,
            )
            return
        self._pauses.release(HANDOVER, partitions)
