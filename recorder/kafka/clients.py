"""aiokafka clients configured from :class:`Settings`, the same way in every service."""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition

from recorder.settings import Settings, kafka_security_kwargs


def producer(settings: Settings, **overrides: Any) -> AIOKafkaProducer:
    kwargs: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "acks": "all",
        "linger_ms": 5,
        "max_request_size": 16 * 1024 * 1024,
        **kafka_security_kwargs(settings),
    }
    kwargs.update(overrides)
    return AIOKafkaProducer(**kwargs)


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
        **kafka_security_kwargs(settings),
    }
    kwargs.update(overrides)
    return AIOKafkaConsumer(*topics, **kwargs)


async def join(
    consumer: AIOKafkaConsumer,
    settings: Settings,
    topic: str,
    listener: ConsumerRebalanceListener | None = None,
) -> list[TopicPartition] | None:
    """Take partitions of ``topic`` as ``settings.group_membership`` says.

    Call after ``consumer.start()``. Dynamic: subscribe, and the listener hears of
    assignments as the group rebalances; returns None. Static: assign the configured
    partitions (all by default) and return them; the caller treats them as
    assigned. Offsets are committed to the group either way, so a restarted
    process, static or dynamic, continues where the last one committed.
    """
    if settings.group_membership == "dynamic":
        if listener is None:
            consumer.subscribe([topic])
        else:
            consumer.subscribe([topic], listener=listener)
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
