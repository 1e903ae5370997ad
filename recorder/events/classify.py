"""Classify an API call the way CloudTrail does: management or data event, read-only or not.

Pure: ``(eventSource, eventName) -> Classification``. The producer uses it to fill
``readOnly``/``managementEvent``/``eventCategory``; the router and ``recorder route``
use it for records that arrive without them (guide lines 4712-4935). The rules are
the conventions table's (:mod:`recorder.events.conventions`), so both sides agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from recorder.events.conventions import (
    LAMBDA_DATA_OPERATIONS,
    LAMBDA_SOURCE,
    S3_OBJECT_OPERATIONS,
    S3_SOURCE,
    is_data_event,
    is_read_only,
)

__all__ = [
    "LAMBDA_DATA_OPERATIONS",
    "LAMBDA_SOURCE",
    "S3_OBJECT_OPERATIONS",
    "S3_SOURCE",
    "Classification",
    "classify",
    "is_data_event",
    "is_read_only",
]


@dataclass(frozen=True, slots=True)
class Classification:
    read_only: bool
    management_event: bool
    event_category: str  # "Management" or "Data"


@lru_cache(maxsize=4096)  # the router classifies every record that comes without it
def classify(event_source: str, event_name: str) -> Classification:
    data = is_data_event(event_source, event_name)
    return Classification(
        read_only=is_read_only(event_source, event_name),
        management_event=not data,
        event_category="Data" if data else "Management",
    )
