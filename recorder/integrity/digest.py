"""The digest document: the guide's "CloudTrail Digest File Structure", byte for byte stable.

A digest is rebuilt from the same inputs after a crash, and the rebuilt object
must overwrite the first one exactly (same bytes, so the same SHA-256 and the
same signature). Hence: fields always in the guide's order, compact JSON, times
in one spelling, and log files de-duplicated and sorted by location rather than
kept in arrival order. validate-logs itself does not care about the order of
``logFiles``; it checks each entry independently.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from recorder.integrity.manifest import LogFileManifest
from recorder.integrity.signing import SIGNATURE_ALGORITHM
from recorder.integrity.times import format_time, parse_time, utc
from recorder.trails.destination import Destination

HASH_ALGORITHM = "SHA-256"
HOUR = dt.timedelta(hours=1)

#: The guide's field order (sample digest, "Digest File Structure").
DIGEST_FIELDS = (
    "awsAccountId",
    "digestStartTime",
    "digestEndTime",
    "digestS3Bucket",
    "digestS3Object",
    "digestPublicKeyFingerprint",
    "digestSignatureAlgorithm",
    "newestEventTime",
    "oldestEventTime",
    "previousDigestS3Bucket",
    "previousDigestS3Object",
    "previousDigestHashValue",
    "previousDigestHashAlgorithm",
    "previousDigestSignature",
    "logFiles",
)


@dataclass(frozen=True, slots=True)
class DigestWindow:
    """The delivery-time range [start, end) a digest covers; ``end`` names the digest."""

    start: dt.datetime
    end: dt.datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", utc(self.start))
        object.__setattr__(self, "end", utc(self.end))
        if self.end <= self.start:
            raise ValueError(f"digest window must end after it starts: {self.start}..{self.end}")

    @classmethod
    def starting(cls, start: dt.datetime, period: dt.timedelta = HOUR) -> DigestWindow:
        """The first window of a chain: CloudTrail's hours run from when validation started."""
        return cls(start, utc(start) + period)

    def following(self, period: dt.timedelta = HOUR) -> DigestWindow:
        return DigestWindow(self.end, self.end + period)

    def contains(self, delivery_time: str | dt.datetime) -> bool:
        t = parse_time(delivery_time) if isinstance(delivery_time, str) else utc(delivery_time)
        return self.start <= t < self.end


@dataclass(frozen=True, slots=True)
class PreviousDigest:
    """The link to the previous digest in a chain, as the next digest records it."""

    bucket: str
    key: str
    sha256: str  # of the previous digest's uncompressed bytes
    signature: str  # hex, the previous digest's x-amz-meta-signature
    end_time: str  # its digestEndTime, so a recovered chain knows where its next hour starts

    def to_json(self) -> dict[str, str]:
        return {
            "bucket": self.bucket,
            "key": self.key,
            "sha256": self.sha256,
            "signature": self.signature,
            "endTime": self.end_time,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> PreviousDigest:
        return cls(
            str(doc["bucket"]),
            str(doc["key"]),
            str(doc["sha256"]),
            str(doc["signature"]),
            str(doc["endTime"]),
        )


def log_file_entries(chain: Destination, files: Iterable[LogFileManifest]) -> list[dict[str, Any]]:
    """``logFiles``: one entry per object, sorted by (bucket, key).

    The writer publishes a manifest at least once, so a replayed delivery shows
    up twice with the same key; the object in S3 is the last one written, so
    the last manifest for a key wins.
    """
    latest: dict[tuple[str, str], LogFileManifest] = {}
    for f in files:
        if f.chain != chain:
            raise ValueError(f"log file s3://{f.bucket}/{f.key} belongs to another chain")
        latest[(f.bucket, f.key)] = f
    return [
        {
            "s3Bucket": f.bucket,
            "s3Object": f.key,
            "hashValue": f.sha256,
            "hashAlgorithm": HASH_ALGORITHM,
            "newestEventTime": _spell(f.newest_event_time),
            "oldestEventTime": _spell(f.oldest_event_time),
        }
        for _, f in sorted(latest.items())
    ]


def build_digest(
    chain: Destination,
    window: DigestWindow,
    bucket: str,
    key: str,
    fingerprint: str,
    previous: PreviousDigest | None,
    files: Iterable[LogFileManifest],
    extra: Mapping[str, Any] | None = None,
) -> bytes:
    """The uncompressed digest bytes (what is hashed and signed).

    ``previous`` None makes a starting digest (all previous* fields null). No
    files makes an 'empty' digest: ``logFiles`` [] and null event times. ``extra``
    fields follow the guide's (validate-logs reads only the fields it knows; the
    signature covers every byte).
    """
    entries = log_file_entries(chain, files)
    newest = [e["newestEventTime"] for e in entries if e["newestEventTime"]]
    oldest = [e["oldestEventTime"] for e in entries if e["oldestEventTime"]]
    doc: dict[str, Any] = {
        "awsAccountId": chain.account_id,
        "digestStartTime": format_time(window.start),
        "digestEndTime": format_time(window.end),
        "digestS3Bucket": bucket,
        "digestS3Object": key,
        "digestPublicKeyFingerprint": fingerprint,
        "digestSignatureAlgorithm": SIGNATURE_ALGORITHM,
        "newestEventTime": max(newest) if newest else None,
        "oldestEventTime": min(oldest) if oldest else None,
        "previousDigestS3Bucket": previous.bucket if previous else None,
        "previousDigestS3Object": previous.key if previous else None,
        "previousDigestHashValue": previous.sha256 if previous else None,
        "previousDigestHashAlgorithm": HASH_ALGORITHM if previous else None,
        "previousDigestSignature": previous.signature if previous else None,
        "logFiles": entries,
    }
    for name, value in (extra or {}).items():
        if name in doc:
            raise ValueError(f"{name} is a digest field of the guide's")
        doc[name] = value
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


def _spell(t: str | None) -> str | None:
    """Re-spell a time in the one canonical form, so max/min compare as strings."""
    return None if t is None else format_time(parse_time(t))
