"""The dead-letter topic: a record that cannot be processed goes here with its reason.

The partition it came from then moves on; nothing is dropped silently, and an
operator can read the reason, the source position and the original bytes back.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from recorder.aws.times import format_seconds
from recorder.obs.logging import get_logger
from recorder.obs.metrics import Metrics

log = get_logger("recorder.dlq")

#: Reasons (the ``reason`` label) of dead letters; bad input but ``PARKING_EXPIRED``.
UNDECODABLE = "undecodable"
INVALID = "invalid"
#: refused by its producer key (recorder.provenance): unsigned, bad signature, an
#: account the key may not write for
REJECTED = "rejected"
BAD_MARKER = "bad-marker"
PARKING_EXPIRED = "parking-expired"


def expect(metrics: Metrics, stage: str, *reasons: str) -> None:
    """Show the stage's dead-letter counters at 0 before the first one: an alert on
    ``increase()`` misses the first count of a series that is born at 1."""
    for reason in reasons:
        metrics.dlq.labels(stage, reason)


def dead_letter(
    *,
    stage: str,
    reason: str,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
) -> bytes:
    return orjson.dumps(
        {
            "stage": stage,
            "reason": reason,
            "source": {"topic": topic, "partition": partition, "offset": offset},
            "key": key.decode(errors="replace") if key else None,
            "valueBase64": base64.b64encode(value or b"").decode(),
            "time": format_seconds(dt.datetime.now(dt.UTC)),
        }
    )


async def send_dead_letter(
    producer: AIOKafkaProducer,
    dlq_topic: str,
    metrics: Metrics,
    record: Any,
    *,
    stage: str,
    reason: str,
    kind: str,
) -> None:
    """Send the dead letter of ``record`` (a consumed ``ConsumerRecord``: its source
    position and bytes) and wait for the ack: the caller commits past the record only
    after this."""
    topic, partition, offset = record.topic, record.partition, record.offset
    body = dead_letter(
        stage=stage,
        reason=reason,
        topic=topic,
        partition=partition,
        offset=offset,
        key=record.key,
        value=record.value,
    )
    await producer.send_and_wait(dlq_topic, body, key=record.key)
    metrics.dlq.labels(stage, kind).inc()
    log.warning(
        "dead_lettered", stage=stage, reason=reason, topic=topic, partition=partition, offset=offset
    )
