"""A deleted trail's last state, kept on ``trails`` for its late events. Pure.

DeleteTrail does not tombstone a trail's key at once: the control API writes the
trail's last document there, its logging stopped at the deletion
(:func:`retire`), with ``DeletedAt``. Compaction keeps it (it is the key's last
record), so after any restart the router still routes the trail's events of before
its deletion (guide line 8394) and the writer delivers them, and parked ones, to the
trail's last bucket with its last prefix, key and topic. Once the parking period has
passed, nothing of it can still be waiting, and the API tombstones the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from recorder.trails.logging_state import stopped
from recorder.trails.model import Trail

DELETED_AT = "DeletedAt"


def retire(doc: Mapping[str, Any], deleted_at: str) -> dict[str, Any]:
    """The stored document of a trail deleted at ``deleted_at`` (a CloudTrail time):
    not logging, its last logging period closed then."""
    periods = doc.get("LoggingPeriods")
    if periods is None and doc.get("IsLogging") and doc.get("StartLoggingTime"):
        periods = [{"StartLoggingTime": doc["StartLoggingTime"]}]
    return {
        **doc,
        "IsLogging": False,
        "LoggingPeriods": stopped(periods, deleted_at),
        DELETED_AT: deleted_at,
    }


def is_retired(doc: Mapping[str, Any]) -> bool:
    return DELETED_AT in doc


def retired_trail(doc: Mapping[str, Any]) -> Trail:
    """The trail a retired document describes (raises as :meth:`Trail.from_api`)."""
    return Trail.from_api({k: v for k, v in doc.items() if k != DELETED_AT})
