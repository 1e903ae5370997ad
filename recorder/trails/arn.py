"""Trail ARNs: ``arn:<partition>:cloudtrail:<region>:<account>:trail/<name>``.

The ARN is the identity of a trail everywhere in recorder (Kafka keys, the
registry, deliveries), and its account is the trail's owner: only that account's
events (or, for an organization trail, its organization's) reach the trail.
What a trail ARN is lives in :mod:`recorder.aws.arn`; here a bad one becomes the
error a CloudTrail client is given.
"""

from __future__ import annotations

from recorder.aws import arn as _arn
from recorder.aws.arn import TrailArn
from recorder.trails.errors import TrailError


def parse_trail_arn(arn: str) -> TrailArn:
    """Split a trail ARN; anything else is ``CloudTrailARNInvalidException``."""
    try:
        return _arn.parse_trail_arn(arn)
    except ValueError:
        raise TrailError("CloudTrailARNInvalidException", f"Invalid trail ARN: {arn!r}") from None
