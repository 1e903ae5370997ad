"""The control API with many tenants: lookups by index, lists bounded as AWS bounds them,
and a huge DescribeTrails never keeps another account waiting."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from recorder.api.auth import Principal
from recorder.api.operations import MAX_LIST_TAGS_RESOURCES, Caller, Operations
from recorder.api.protocol import ApiError
from recorder.api.store import MemoryStore
from tests.unit.api import test_service
from tests.unit.api.doubles import FakeChecks
from tests.unit.api.test_service import Server

server = test_service.server  # the API on a real port (a fixture)

ALICE, BOB = "111111111111", "222222222222"


def caller(account: str, region: str = "us-east-2") -> Caller:
    return Caller(Principal(f"AK{account}", account), region, "req")


async def _populate(ops: Operations, accounts: int) -> list[str]:
    ids = [f"{300000000000 + i:012d}" for i in range(accounts)]
    for account in ids:
        await ops.dispatch(
            "CreateTrail", caller(account), {"Name": "audit", "S3BucketName": "my-bucket"}
        )
    return ids


async def test_lookups_find_each_account_own_trail_among_many() -> None:
    store = MemoryStore()
    ops = Operations(store=store, checks=FakeChecks())
    ids = await _populate(ops, 300)
    await ops.dispatch(
        "CreateTrail", caller(ids[7], "eu-west-1"), {"Name": "audit", "S3BucketName": "my-bucket"}
    )
    out = await ops.dispatch("DescribeTrails", caller(ids[7]), {"trailNameList": ["audit"]})
    assert [t["TrailARN"] for t in out["trailList"]] == [
        f"arn:aws:cloudtrail:us-east-2:{ids[7]}:trail/audit"
    ]
    listed = await ops.dispatch("ListTrails", caller(ids[7]), {})
    assert {t["HomeRegion"] for t in listed["Trails"]} == {"us-east-2", "eu-west-1"}
    with pytest.raises(ApiError) as info:  # another account's name is not found
        await ops.dispatch("GetTrailStatus", caller(ids[8], "eu-west-1"), {"Name": "audit"})
    assert info.value.code == "TrailNotFoundException"


async def test_describe_trails_with_100000_names_is_bounded_and_others_are_answered() -> None:
    ops = Operations(store=MemoryStore(), checks=FakeChecks())
    await _populate(ops, 1)
    await ops.dispatch("CreateTrail", caller(ALICE), {"Name": "audit", "S3BucketName": "my-bucket"})
    await ops.dispatch("CreateTrail", caller(BOB), {"Name": "other", "S3BucketName": "my-bucket"})
    names: list[Any] = [f"trail-{i:06d}" for i in range(100_000)]
    names[50_000] = "audit"
    names.append(f"arn:aws:cloudtrail:us-east-2:{ALICE}:trail/audit")  # the same trail again
    big = asyncio.create_task(
        ops.dispatch("DescribeTrails", caller(ALICE), {"trailNameList": names})
    )
    small = asyncio.create_task(ops.dispatch("GetTrailStatus", caller(BOB), {"Name": "other"}))
    done, _ = await asyncio.wait({big, small}, return_when=asyncio.FIRST_COMPLETED)
    assert small in done and big not in done  # answered while the long list was worked
    assert (await small)["IsLogging"] is False
    out = await big
    assert [t["Name"] for t in out["trailList"]] == ["audit"]  # one trail, once


async def test_describe_trails_names_an_invalid_name_among_many() -> None:
    ops = Operations(store=MemoryStore(), checks=FakeChecks())
    names = [f"trail-{i:06d}" for i in range(1000)] + ["bad..name"]
    with pytest.raises(ApiError) as info:
        await ops.dispatch("DescribeTrails", caller(ALICE), {"trailNameList": names})
    assert info.value.code == "InvalidTrailNameException"


async def test_list_tags_takes_at_most_20_arns() -> None:
    ops = Operations(store=MemoryStore(), checks=FakeChecks())
    out = await ops.dispatch(
        "CreateTrail", caller(ALICE), {"Name": "audit", "S3BucketName": "my-bucket"}
    )
    arns = [out["TrailARN"]] * MAX_LIST_TAGS_RESOURCES
    listed = await ops.dispatch("ListTags", caller(ALICE), {"ResourceIdList": arns})
    assert len(listed["ResourceTagList"]) == 20
    with pytest.raises(ApiError) as info:
        await ops.dispatch("ListTags", caller(ALICE), {"ResourceIdList": [*arns, out["TrailARN"]]})
    assert info.value.code == "ValidationException"
    assert "less than or equal to 20" in info.value.message


async def test_over_http_a_100000_name_request_leaves_the_loop_to_other_accounts(
    server: Server,
) -> None:
    """Through boto3 and the real pipeline (signature, a 1 MiB body parsed in a worker
    thread, lookups in slices): another account's GetTrailStatus calls are answered
    while the long DescribeTrails is under way."""
    alice, bob = server.client(), server.client("AKB", "sb")
    await asyncio.to_thread(alice.create_trail, Name="audit", S3BucketName="my-bucket")
    await asyncio.to_thread(bob.create_trail, Name="other", S3BucketName="my-bucket")
    names = [f"n{i:05d}" for i in range(100_000)]  # a 1 MiB body holds them
    names[-1] = "audit"
    big = asyncio.create_task(asyncio.to_thread(alice.describe_trails, trailNameList=names))
    answered = 0
    while not big.done():
        status = await asyncio.to_thread(bob.get_trail_status, Name="other")
        assert status["IsLogging"] is False
        answered += 1
    assert answered >= 2  # at least one call began and ended within the long one
    assert [t["Name"] for t in (await big)["trailList"]] == ["audit"]
