"""A record as it appears in a CloudTrail log file: members in CloudTrail's order.

JSON readers do not care about member order, but people and diff tools reading log
files do, and CloudTrail always writes the same order. That order is the one every
record in the guide follows (e.g. ``readOnly`` and ``resources`` before ``eventType``,
lines 11315 and 12021), which is also the schema's field order; members CloudTrail
does not name follow, in the order they came.

This is the delivery hot path, so the order of a key sequence is worked out once and
remembered, and a record already in order (anything ``decode`` returns, anything the
producer builds) is returned as it is, not copied.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from itertools import pairwise
from typing import Any

import orjson

from recorder.events.schema import FIELD_ORDER

_RANK = {name: rank for rank, name in enumerate(FIELD_ORDER)}
_UNNAMED = len(FIELD_ORDER)


@lru_cache(maxsize=512)
def _reordering(keys: tuple[str, ...]) -> tuple[str, ...] | None:
    """The keys in log-file order, or None when they already are."""
    ranks = [_RANK.get(key, _UNNAMED) for key in keys]
    if all(a <= b for a, b in pairwise(ranks)):
        return None
    order = sorted(range(len(keys)), key=ranks.__getitem__)  # stable: unnamed keep their order
    return tuple(keys[i] for i in order)


def render_record(record: dict[str, Any]) -> dict[str, Any]:
    """``record`` with its members in log-file order; ``record`` itself if already so.

    Nothing is added or dropped: an absent member stays absent, a null stays null.
    """
    order = _reordering(tuple(record))
    if order is None:
        return record
    return {key: record[key] for key in order}


def log_file_bytes(records: Iterable[dict[str, Any]]) -> bytes:
    """The uncompressed body of a log file: ``{"Records":[...]}``, compact, UTF-8."""
    return orjson.dumps({"Records": [render_record(record) for record in records]})
