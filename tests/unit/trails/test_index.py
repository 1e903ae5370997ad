"""The trail index answers every lookup the control API makes without a scan."""

from __future__ import annotations

from recorder.trails import Trail
from recorder.trails.index import TrailIndex
from tests.unit.routing.guide_cases import trail

ALICE, BOB = "111111111111", "222222222222"


def _t(name: str, account: str = ALICE, region: str = "us-east-2", **extra: object) -> Trail:
    return Trail.from_api(trail(name, account, region, multi=False, **extra))


def test_by_arn_account_and_name() -> None:
    east, west = _t("audit"), _t("audit", region="us-west-2")
    other = _t("audit", BOB)
    index = TrailIndex([east, west, other, _t("ops")])
    assert index[east.trail_arn] is east
    assert len(index) == 4 and index.accounts() == 2
    assert sorted(t.trail_arn for t in index.named(ALICE, "audit")) == sorted(
        [east.trail_arn, west.trail_arn]
    )
    assert index.named(BOB, "audit") == [other]
    assert index.named(BOB, "ops") == []
    assert {t.name for t in index.of_account(ALICE)} == {"audit", "ops"}
    assert len(index.of_account(ALICE)) == 3


def test_replace_and_remove_keep_every_view_in_step() -> None:
    index = TrailIndex([_t("audit")])
    arn = _t("audit").trail_arn
    org = _t(
        "audit", IsOrganizationTrail=True, InsightSelectors=[{"InsightType": "ApiCallRateInsight"}]
    )
    index.put(org)  # same ARN: replaces
    assert len(index) == 1 and index.organization_trails() == [org]
    assert index.insight_trails() == [org]
    assert index.remove(arn) is org
    assert index.remove(arn) is None
    assert (len(index), index.accounts()) == (0, 0)
    assert index.named(ALICE, "audit") == [] and index.organization_trails() == []
    assert index.insight_trails() == []
