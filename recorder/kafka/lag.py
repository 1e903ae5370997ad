"""Consumer lag per partition (high watermark minus position), as a gauge.

The same reading catches a broker that lost acknowledged records: the log end then
falls below a position this consumer already reached. Consuming on would silently
skip the new records the broker writes at the offsets it hands out again, so the
service stops instead; its restart resumes at the log end (``partitions.resume``).
"""

from __future__ import annotations

import contextlib

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import IllegalStateError

from recorder.obs.logging import get_logger
from recorder.obs.metrics import Metrics

log = get_logger("recorder.kafka")


class OffsetRegression(RuntimeError):
    """The broker's log end for a partition is below where this consumer stands."""


async def record_lag(consumer: AIOKafkaConsumer, metrics: Metrics, stage: str) -> int:
    """Update the lag gauge from the consumer's last fetch metadata; returns total lag."""
    total = 0
    for tp in consumer.assignment():
        high = consumer.highwater(tp)
        if high is None:
            continue
        with contextlib.suppress(IllegalStateError):
            position = await consumer.position(tp)
            regressions = metrics.offset_regressions.labels(stage, str(tp.partition))
            if position > high:
                regressions.inc()
                log.error(
                    "offset_regression",
                    stage=stage,
                    topic=tp.topic,
                    partition=tp.partition,
                    position=position,
                    log_end=high,
                )
                raise OffsetRegression(
                    f"{tp.topic}[{tp.partition}]: log end {high} is below position {position}"
                )
            lag = high - position
            total += lag
            metrics.consumer_lag.labels(stage, str(tp.partition)).set(lag)
    return total
