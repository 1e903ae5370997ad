"""The trails-per-region limit (guide lines 480 and 1239), for the control API.

"CloudTrail supports five trails per Region. A trail that applies to all AWS Regions
counts as one trail in every Region." Counted per owner account; organization trails
of another account do not count (line 3789: they are created in member accounts even
when those have reached the limit).
"""

from __future__ import annotations

from collections.abc import Iterable

from recorder.trails.errors import trail_error
from recorder.trails.model import Trail

MAX_TRAILS_PER_REGION = 5


def trails_in_region(trails: Iterable[Trail], account_id: str, region: str) -> list[Trail]:
    """The trails of ``account_id`` that exist in ``region``."""
    return [t for t in trails if t.account_id == account_id and t.exists_in(region)]


def check_trail_limit(existing: Iterable[Trail], candidate: Trail) -> None:
    """Raise ``MaximumNumberOfTrailsExceededException`` if creating (or updating to)
    ``candidate`` would put a sixth trail in any region of its account."""
    account = candidate.account_id
    others = [t for t in existing if t.trail_arn != candidate.trail_arn and t.account_id == account]
    if candidate.is_multi_region_trail:
        regions = {t.home_region for t in others} | {candidate.home_region}
    else:
        regions = {candidate.home_region}
    for region in sorted(regions):
        count = len(trails_in_region(others, account, region)) + 1
        if count > MAX_TRAILS_PER_REGION:
            # AWS's words name the account and region only (too_many_trails)
            raise trail_error("too_many_trails", account=account, region=region)
