"""Assemble one log file from routed records. Pure.

Routed records already carry each event's CloudTrail JSON, rendered once by the
router in the guide's field order, so a file is those bytes joined inside
``{"Records":[...]}``: nothing is parsed or re-serialised on the delivery hot path.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LogFile:
    body: bytes  # uncompressed JSON
    gz: bytes  # what goes to S3
    sha256: str  # of the uncompressed bytes: a digest's hashValue
    record_count: int
    oldest_event_time: str | None
    newest_event_time: str | None


def build_log_file(records: Sequence[bytes], event_times: Sequence[str], level: int = 6) -> LogFile:
    body = b'{"Records":[' + b",".join(records) + b"]}"
    # mtime=0 and no file name: the same records always give the same object bytes.
    gz = gzip.compress(body, compresslevel=level, mtime=0)
    times = [t for t in event_times if t]
    return LogFile(
        body=body,
        gz=gz,
        sha256=hashlib.sha256(body).hexdigest(),
        record_count=len(records),
        oldest_event_time=min(times) if times else None,
        newest_event_time=max(times) if times else None,
    )
