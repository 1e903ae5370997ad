"""Log file object keys, exactly per the guide (lines 585 and 4146). Pure.

``<prefix>/AWSLogs/[<org-id>/]<account>/CloudTrail/<region>/YYYY/MM/DD/
<account>_CloudTrail_<region>_YYYYMMDDTHHmmZ_<UniqueString>.json.gz``

Insights files (guide line 2773) go to ``CloudTrail-Insight/`` instead, named
``<account>_CloudTrail-Insight_<region>_...``: their routed records carry an
Insight destination (:attr:`Destination.insight`).

The 16-character unique string is derived from the destination and the batch's first
offset (and its cut time), so a retried or replayed delivery writes the same key
and overwrites itself instead of adding a second copy.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True, slots=True, order=True)
class Destination:
    """Where a routed record is delivered: one trail, one account folder, one region."""

    trail_arn: str
    account_id: str
    region: str
    org_id: str | None = None
    insight: bool = False  # Insights events: the CloudTrail-Insight folder

    def key(self) -> bytes:
        """The Kafka key of routed records: one destination, one partition."""
        parts = (self.trail_arn, self.account_id, self.region, self.org_id or "")
        return "|".join((*parts, INSIGHT) if self.insight else parts).encode()

    def digest_key(self) -> bytes:
        """The key of the digest chain the destination's files belong to: Insights
        files are in the (trail, account, region) chain of the trail's other files."""
        return "|".join((self.trail_arn, self.account_id, self.region, self.org_id or "")).encode()

    @property
    def folder(self) -> str:
        return "CloudTrail-Insight" if self.insight else "CloudTrail"

    @classmethod
    def from_key(cls, raw: bytes) -> Destination:
        parts = raw.decode().split("|")
        insight = len(parts) == 5 and parts[4] == INSIGHT
        if len(parts) != (5 if insight else 4) or not all(parts[:3]):
            raise ValueError(f"not a destination key: {raw[:200]!r}")
        return cls(parts[0], parts[1], parts[2], parts[3] or None, insight)


INSIGHT = "Insight"


def unique_string(seed: str) -> str:
    """16 characters of [0-9A-Za-z] from a seed, uniformly distributed."""
    n = int.from_bytes(hashlib.sha256(seed.encode()).digest()[:16], "big")
    out = []
    for _ in range(16):
        n, r = divmod(n, 62)
        out.append(_ALPHABET[r])
    return "".join(out)


def folder_prefix(s3_key_prefix: str | None, dest: Destination) -> str:
    """``[<prefix>/]AWSLogs/[<org-id>/]<account>/`` (org trails: guide line 3923)."""
    parts = []
    if s3_key_prefix:
        parts.append(s3_key_prefix.strip("/"))
    parts.append("AWSLogs")
    if dest.org_id:
        parts.append(dest.org_id)
    parts.append(dest.account_id)
    return "/".join(parts) + "/"


def log_file_key(
    dest: Destination,
    s3_key_prefix: str | None,
    delivered_at: dt.datetime,
    seed: str,
) -> str:
    t = delivered_at.astimezone(dt.UTC)
    folder = dest.folder
    name = (
        f"{dest.account_id}_{folder}_{dest.region}_{t:%Y%m%dT%H%M}Z_{unique_string(seed)}.json.gz"
    )
    return f"{folder_prefix(s3_key_prefix, dest)}{folder}/{dest.region}/{t:%Y/%m/%d}/{name}"
