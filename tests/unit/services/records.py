"""Records of the `trails` topic as a consumer returns them, for the registry's logic."""

from __future__ import annotations

from typing import Any

import orjson
from aiokafka.structs import ConsumerRecord


def trails_record(
    offset: int,
    key: str,
    value: dict[str, Any] | None,
    timestamp_ms: int = 1_764_547_200_000,
    headers: list[tuple[str, bytes]] | None = None,
) -> ConsumerRecord[bytes, bytes]:
    body = None if value is None else orjson.dumps(value)
    return ConsumerRecord(
        "trails",
        0,
        offset,
        timestamp_ms,
        0,
        key.encode(),
        body,
        None,
        len(key),
        len(body or b""),
        headers or [],
    )
