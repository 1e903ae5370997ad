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

from recorder.aws.s3 import prefixed
from recorder.trails.destination import Destination

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def unique_string(seed: str) -> str:
    """16 characters of [0-9A-Za-z] from a seed, uniformly distributed."""
    n = int.from_bytes(hashlib.sha256(seed.encode()).digest()[:16], "big")
    out = []
    for _ in range(16):
        n, r = divmod(n, 62)
        out.append(_ALPHABET[r])
    return "".join(out)


def folder_prefix(s3_key_prefix: str | None, dest: Destination) -> str:
    """``[<prefix>/]AWSLogs/[<org-id>/]<account>/`` (org trails: guide line 3923); the
    prefix joined as :func:`recorder.aws.s3.prefixed` says, like the digests'."""
    org = f"{dest.org_id}/" if dest.org_id else ""
    return prefixed(s3_key_prefix, f"AWSLogs/{org}{dest.account_id}/")


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
