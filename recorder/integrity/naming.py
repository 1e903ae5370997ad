"""Digest object keys, exactly as validate-logs computes and lists them.

Guide, "Digest File Location"::

    <prefix>/AWSLogs/[<org-id>/]<account>/CloudTrail-Digest/<region>/YYYY/MM/DD/
    <account>_CloudTrail-Digest_<region>_<trail-name>_<home-region>_YYYYMMDDTHHMMSSZ.json.gz

The date folders and the timestamp are the digest's end time. The region after
``CloudTrail-Digest/`` is the region the digest covers (the delivery region);
the one after the trail name is the trail's home region. The prefix is joined
with a single ``/`` and not otherwise normalised, because that is how the CLI
builds its listing prefix from the trail's ``S3KeyPrefix``: a key built any
other way is invisible to validate-logs.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace

from recorder.aws.arn import is_trail_arn
from recorder.aws.s3 import prefixed
from recorder.integrity.times import format_key_time, utc
from recorder.trails.destination import EVENTS, Destination

_BACKFILL_SUFFIX = "_backfill.json.gz"


def digest_chain(destination: Destination) -> Destination:
    """The digest chain a destination's files belong to: a trail's digests for one
    account folder and one region (the region the digests cover, where the log files
    were delivered). Insights, network activity and aggregated files are in it too, so
    the kind is dropped.

    The trail ARN is checked here, as validate-logs checks ``--trail-arn``: a chain
    read from ``delivered`` or from state with a bad ARN fails on the way in.
    """
    if not is_trail_arn(destination.trail_arn):
        raise ValueError(f"Invalid trail ARN provided: {destination.trail_arn}")
    return replace(destination, kind=EVENTS) if destination.kind else destination


def digest_folder(chain: Destination, prefix: str | None) -> str:
    """``[<prefix>/]AWSLogs/[<org-id>/]<account>/CloudTrail-Digest/<region>`` (no slash at the end).

    The exact string validate-logs passes as ``Prefix`` to ListObjects.
    """
    folder = "AWSLogs/"
    if chain.org_id:
        folder += f"{chain.org_id}/"
    folder += f"{chain.account_id}/CloudTrail-Digest/{chain.region}"
    return prefixed(prefix, folder)


def digest_key(
    chain: Destination, prefix: str | None, end_time: dt.datetime, *, backfill: bool = False
) -> str:
    """A digest's key; a backfill digest's ends ``_backfill.json.gz`` (the guide's note
    on backfill digest files; validate-logs lists them apart and walks them as a chain
    of their own)."""
    end = utc(end_time)
    name = (
        f"{chain.account_id}_CloudTrail-Digest_{chain.region}_{chain.trail_name}_"
        f"{chain.home_region}_{format_key_time(end)}"
        f"{_BACKFILL_SUFFIX if backfill else '.json.gz'}"
    )
    return f"{digest_folder(chain, prefix)}/{end:%Y/%m/%d}/{name}"


def digest_key_pattern(chain: Destination, prefix: str | None) -> re.Pattern[str]:
    """What validate-logs accepts as one of this chain's digests (standard or backfill)."""
    account = re.escape(chain.account_id)
    region = re.escape(chain.region)
    pattern = "AWSLogs/"
    if chain.org_id:
        pattern += f"{chain.org_id}/"
    pattern += (
        f"{account}/CloudTrail\\-Digest/{region}/\\d+/\\d+/\\d+/{account}_CloudTrail\\-Digest_"
        f"{region}_{re.escape(chain.trail_name)}_{re.escape(chain.home_region)}_.+"
        "(?:_backfill)?\\.json\\.gz"
    )
    return re.compile("^" + prefixed(re.escape(prefix) if prefix else None, pattern) + "$")


def is_backfill_key(key: str) -> bool:
    return key.endswith(_BACKFILL_SUFFIX)


def digest_key_time(key: str) -> str:
    """The ``YYYYMMDDTHHMMSSZ`` end time in a digest key, cut by position like the CLI."""
    return key[-33:-17] if is_backfill_key(key) else key[-24:-8]


def is_chain_digest_key(chain: Destination, key: str) -> bool:
    """Whether ``key`` is one of this chain's digests, under whatever prefix."""
    unanchored = digest_key_pattern(chain, None).pattern.removeprefix("^")
    return re.search(f"(?:^|/){unanchored}", key) is not None
