"""Organization trails at the API (guide lines 217, 392, 3683): only the management
account makes one; members see it (by ARN, in DescribeTrails and ListTrails) but
cannot change it; an account outside the organization does not see it."""

from __future__ import annotations

import pytest

from recorder.api.operations import Operations
from recorder.api.store import MemoryStore
from tests.unit.api.doubles import FakeChecks
from tests.unit.api.test_operations import call, caller, code

ORG = "o-exampleorgid"
MANAGEMENT, MEMBER, OUTSIDER = "111111111111", "444444444444", "555555555555"


@pytest.fixture
def ops() -> Operations:
    store = MemoryStore({MANAGEMENT: ORG, MEMBER: ORG}, management={ORG: MANAGEMENT})
    return Operations(store=store, checks=FakeChecks())


async def _org_trail(ops: Operations) -> str:
    out = await call(
        ops,
        "CreateTrail",
        caller(MANAGEMENT),
        Name="MyOrganizationTrail",
        S3BucketName="my-bucket",
        IsOrganizationTrail=True,
        IsMultiRegionTrail=True,
    )
    assert out["IsOrganizationTrail"] is True
    return str(out["TrailARN"])


async def test_only_the_management_account_creates_one(ops: Operations) -> None:
    member = caller(MEMBER)
    assert await code(
        ops, "CreateTrail", member, Name="t-1", S3BucketName="my-bucket", IsOrganizationTrail=True
    ) == ("NotOrganizationMasterAccountException")
    assert await code(
        ops,
        "CreateTrail",
        caller(OUTSIDER),
        Name="t-1",
        S3BucketName="my-bucket",
        IsOrganizationTrail=True,
    ) == ("OrganizationsNotInUseException")
    # nor turns its own trail into one
    await call(ops, "CreateTrail", member, Name="own", S3BucketName="my-bucket")
    assert await code(ops, "UpdateTrail", member, Name="own", IsOrganizationTrail=True) == (
        "NotOrganizationMasterAccountException"
    )
    await _org_trail(ops)


async def test_members_see_it_but_cannot_change_it(ops: Operations) -> None:
    arn = await _org_trail(ops)
    member = caller(MEMBER)
    assert [t["TrailARN"] for t in (await call(ops, "DescribeTrails", member))["trailList"]] == [
        arn
    ]
    assert [t["TrailARN"] for t in (await call(ops, "ListTrails", member))["Trails"]] == [arn]
    assert (await call(ops, "GetTrail", member, Name=arn))["Trail"]["IsOrganizationTrail"]
    assert "IsLogging" in await call(ops, "GetTrailStatus", member, Name=arn)
    assert (await call(ops, "GetEventSelectors", member, TrailName=arn))["TrailARN"] == arn
    # by ARN only: the name is the member's own namespace (line 392)
    assert await code(ops, "GetTrail", member, Name="MyOrganizationTrail") == (
        "TrailNotFoundException"
    )
    for op, params in (
        ("UpdateTrail", {"Name": arn, "S3BucketName": "other-bucket"}),
        ("DeleteTrail", {"Name": arn}),
        ("StopLogging", {"Name": arn}),
        ("StartLogging", {"Name": arn}),
        (
            "PutEventSelectors",
            {"TrailName": arn, "EventSelectors": [{"ReadWriteType": "ReadOnly"}]},
        ),
    ):
        assert await code(ops, op, member, **params) == "TrailNotFoundException", op
    assert await code(ops, "AddTags", member, ResourceId=arn, TagsList=[{"Key": "k"}]) == (
        "ResourceNotFoundException"
    )
    # the management account still can
    await call(ops, "StartLogging", caller(MANAGEMENT), Name=arn)
    await call(ops, "DeleteTrail", caller(MANAGEMENT), Name=arn)


async def test_accounts_outside_the_organization_do_not_see_it(ops: Operations) -> None:
    arn = await _org_trail(ops)
    outsider = caller(OUTSIDER)
    assert (await call(ops, "DescribeTrails", outsider))["trailList"] == []
    assert await code(ops, "GetTrail", outsider, Name=arn) == "TrailNotFoundException"
