"""Consumer lag per partition (high watermark minus position), as a gauge."""

from __future__ import annotations

import contextlib

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import IllegalStateError

from recorder.obs.metrics import Metrics


async def record_lag(consumer: AIOKafkaConsumer, metrics: Metrics, stage: str) -> int:
    """Update the lag gauge from the consumer's last fetch metadata; returns total lag."""
    total = 0
    for tp in consumer.assignment():
        high = consumer.highwater(tp)
        if high is None:
            continue
        with contextlib.suppress(IllegalStateError):
            lag = max(0, high - await consumer.position(tp))
            total += lag
            metrics.consumer_lag.labels(stage, str(tp.partition)).set(lag)
    return total
