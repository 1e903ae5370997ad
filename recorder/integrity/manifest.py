"""The record of one delivered log file, as the writer publishes it on ``delivered``.

This is the contract between delivery and the digester: everything a digest's
``logFiles`` entry needs, so the digester never reads a log file back from S3.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from recorder.integrity.naming import digest_chain
from recorder.integrity.times import parse_time
from recorder.trails.destination import Destination


@dataclass(frozen=True, slots=True)
class LogFileManifest:
    chain: Destination  # the digest chain the file is in (the writer's destination)
    bucket: str
    key: str
    sha256: str  # hex SHA-256 of the uncompressed log file: the digest's hashValue
    oldest_event_time: str | None
    newest_event_time: str | None
    delivery_time: str
    record_count: int

    def __post_init__(self) -> None:
        if len(self.sha256) != 64 or any(c not in "0123456789abcdef" for c in self.sha256):
            raise ValueError(f"sha256 must be 64 lower-case hex digits, got {self.sha256!r}")
        # Fail on the way in, not an hour later when the digest is built.
        parse_time(self.delivery_time)
        for t in (self.oldest_event_time, self.newest_event_time):
            if t is not None:
                parse_time(t)

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> LogFileManifest:
        """Read a ``delivered`` message; fields this stage does not use are ignored.

        Ignoring unknown fields lets the writer add to the manifest (it already
        sends ``cutReason``) without a lock-step release of the digester.
        """
        try:
            return cls(
                chain=digest_chain(Destination.from_json(doc)),
                bucket=str(doc["bucket"]),
                key=str(doc["key"]),
                sha256=str(doc["sha256"]),
                oldest_event_time=doc.get("oldestEventTime"),
                newest_event_time=doc.get("newestEventTime"),
                delivery_time=str(doc["deliveryTime"]),
                record_count=int(doc["recordCount"]),
            )
        except KeyError as exc:
            raise ValueError(f"manifest lacks {exc.args[0]!r}") from None

    def to_json(self) -> dict[str, Any]:
        return {
            **self.chain.to_json(),
            "bucket": self.bucket,
            "key": self.key,
            "sha256": self.sha256,
            "oldestEventTime": self.oldest_event_time,
            "newestEventTime": self.newest_event_time,
            "deliveryTime": self.delivery_time,
            "recordCount": self.record_count,
        }
