"""Trail ARNs: ``arn:<partition>:cloudtrail:<region>:<account>:trail/<name>``.

The ARN is the identity of a trail everywhere in recorder (Kafka keys, the
registry, deliveries), and its account is the trail's owner: only that account's
events (or, for an organization trail, its organization's) reach the trail.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from recorder.trails.errors import TrailError

_TRAIL_ARN = re.compile(
    r"arn:(?P<partition>aws(?:-[a-z]+)*):cloudtrail:(?P<region>[a-z]{2}(?:-[a-z]+)+-\d+):"
    r"(?P<account>\d{12}):trail/(?P<name>[^/]+)"
)
_ACCOUNT = re.compile(r"\d{12}")
_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d+")


class TrailArn(NamedTuple):
    partition: str
    region: str
    account_id: str
    name: str


def trail_arn(region: str, account_id: str, name: str, partition: str = "aws") -> str:
    """The ARN CloudTrail gives a trail created in ``region`` (its home region)."""
    return f"arn:{partition}:cloudtrail:{region}:{account_id}:trail/{name}"


def parse_trail_arn(arn: str) -> TrailArn:
    """Split a trail ARN; anything else is ``CloudTrailARNInvalidException``."""
    m = _TRAIL_ARN.fullmatch(arn) if isinstance(arn, str) else None
    if m is None:
        raise TrailError("CloudTrailARNInvalidException", f"Invalid trail ARN: {arn!r}")
    return TrailArn(m["partition"], m["region"], m["account"], m["name"])


def is_account_id(value: object) -> bool:
    return isinstance(value, str) and _ACCOUNT.fullmatch(value) is not None


def is_region(value: object) -> bool:
    return isinstance(value, str) and _REGION.fullmatch(value) is not None
