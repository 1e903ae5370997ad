"""Handlers over an in-memory store: visibility, home region, limits, isolation, tags,
pagination, status, with the trail model's own rules (recorder.trails)."""

from __future__ import annotations

from typing import Any

import pytest

from recorder.api.auth import Principal
from recorder.api.operations import Caller, Operations
from recorder.api.protocol import ApiError
from recorder.api.store import MemoryStore
from tests.unit.api.doubles import FakeChecks

ALICE = "111111111111"
BOB = "222222222222"


def caller(account: str = ALICE, region: str = "us-east-2") -> Caller:
    return Caller(Principal(f"AK{account}", account), region, "req-1")


@pytest.fixture
def ops() -> Operations:
    return Operations(store=MemoryStore(), checks=FakeChecks(), list_page_size=3)


async def call(ops: Operations, op: str, who: Caller | None = None, **params: Any) -> Any:
    return await ops.dispatch(op, who or caller(), params)


async def code(ops: Operations, op: str, who: Caller | None = None, **params: Any) -> str:
    with pytest.raises(ApiError) as info:
        await call(ops, op, who, **params)
    return info.value.code


async def test_create_trail_like_the_guide(ops: Operations) -> None:
    out = await call(
        ops,
        "CreateTrail",
        Name="my-trail",
        S3BucketName="my-bucket",
        IsMultiRegionTrail=True,
        TagsList=[{"Key": "Group", "Value": "Marketing"}],
    )
    assert out["TrailARN"] == f"arn:aws:cloudtrail:us-east-2:{ALICE}:trail/my-trail"
    assert out["IncludeGlobalServiceEvents"] is True
    assert out["IsMultiRegionTrail"] is True
    assert out["LogFileValidationEnabled"] is False
    assert out["IsOrganizationTrail"] is False
    assert out["IsLogging"] is False
    status = await call(ops, "GetTrailStatus", Name="my-trail")
    assert status["IsLogging"] is False
    assert status["TimeLoggingStarted"] == ""
    tags = await call(ops, "ListTags", ResourceIdList=[out["TrailARN"]])
    assert tags["ResourceTagList"][0]["TagsList"] == [{"Key": "Group", "Value": "Marketing"}]


async def test_create_errors(ops: Operations) -> None:
    await call(ops, "CreateTrail", Name="trail-t", S3BucketName="my-bucket")
    assert await code(ops, "CreateTrail", Name="trail-t", S3BucketName="my-bucket") == (
        "TrailAlreadyExistsException"
    )
    assert await code(ops, "CreateTrail", Name="trail-u", S3BucketName="nope") == (
        "S3BucketDoesNotExistException"
    )
    assert await code(
        ops, "CreateTrail", Name="trail-u", S3BucketName="my-bucket", SnsTopicName="missing"
    ) == ("InsufficientSnsTopicPolicyException")
    assert await code(
        ops, "CreateTrail", Name="trail-u", S3BucketName="my-bucket", KmsKeyId="alias/none"
    ) == ("KmsKeyNotFoundException")
    assert await code(ops, "CreateTrail", Name="bad..name", S3BucketName="my-bucket") == (
        "InvalidTrailNameException"
    )
    assert await code(
        ops,
        "CreateTrail",
        Name="trail-u",
        S3BucketName="my-bucket",
        IsMultiRegionTrail=True,
        IncludeGlobalServiceEvents=False,
    ) == ("InvalidParameterCombinationException")
    assert await code(
        ops, "CreateTrail", Name="trail-u", S3BucketName="my-bucket", IsOrganizationTrail=True
    ) == ("OrganizationsNotInUseException")


async def test_create_resolves_topic_and_key(ops: Operations) -> None:
    out = await call(
        ops,
        "CreateTrail",
        Name="trail-t",
        S3BucketName="my-bucket",
        SnsTopicName="my-topic",
        KmsKeyId="alias/MyKmsKey",
    )
    assert out["SnsTopicName"] == "my-topic"
    assert out["SnsTopicARN"] == f"arn:aws:sns:us-east-2:{ALICE}:my-topic"
    assert (
        out["KmsKeyId"]
        == "arn:aws:kms:us-east-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    )
    cleared = await call(ops, "UpdateTrail", Name="trail-t", SnsTopicName="", KmsKeyId="")
    assert "SnsTopicARN" not in cleared
    assert "KmsKeyId" not in cleared


async def test_five_trails_per_region_multi_region_counting_everywhere(ops: Operations) -> None:
    for i in range(4):
        await call(ops, "CreateTrail", Name=f"trail{i}", S3BucketName="my-bucket")
    west = caller(region="us-west-2")
    await call(
        ops, "CreateTrail", west, Name="trail-w", S3BucketName="my-bucket", IsMultiRegionTrail=True
    )
    # the multi-region trail is the fifth in us-east-2 as well
    assert await code(ops, "CreateTrail", Name="trail5", S3BucketName="my-bucket") == (
        "MaximumNumberOfTrailsExceededException"
    )
    # another account is not affected
    await call(ops, "CreateTrail", caller(BOB), Name="trail5", S3BucketName="my-bucket")
    # and a region with room still takes single-region trails
    await call(ops, "CreateTrail", west, Name="trail-w2", S3BucketName="my-bucket")


async def test_shadow_trails_and_home_region(ops: Operations) -> None:
    await call(ops, "CreateTrail", Name="multi", S3BucketName="my-bucket", IsMultiRegionTrail=True)
    await call(ops, "CreateTrail", Name="single", S3BucketName="my-bucket")
    west = caller(region="us-west-2")
    names = [t["Name"] for t in (await call(ops, "DescribeTrails", west))["trailList"]]
    assert names == ["multi"]
    no_shadows = await call(ops, "DescribeTrails", west, includeShadowTrails=False)
    assert no_shadows["trailList"] == []
    assert (await call(ops, "GetTrail", west, Name="multi"))["Trail"]["HomeRegion"] == "us-east-2"
    assert await code(ops, "GetTrail", west, Name="single") == "TrailNotFoundException"
    for op in ("UpdateTrail", "DeleteTrail", "StartLogging", "StopLogging"):
        assert await code(ops, op, west, Name="multi") == "InvalidHomeRegionException"
    assert await code(
        ops,
        "PutEventSelectors",
        west,
        TrailName="multi",
        EventSelectors=[{"ReadWriteType": "All"}],
    ) == ("InvalidHomeRegionException")
    # a shadow's name is taken in the other region
    assert await code(ops, "CreateTrail", west, Name="multi", S3BucketName="my-bucket") == (
        "TrailAlreadyExistsException"
    )


async def test_another_regions_trail_by_arn(ops: Operations) -> None:
    """API reference: "To return information about a trail in another Region, you must
    specify its trail ARN"; writes answer InvalidHomeRegionException outside it."""
    arn = (await call(ops, "CreateTrail", Name="single", S3BucketName="my-bucket"))["TrailARN"]
    west = caller(region="us-west-2")
    assert (await call(ops, "GetTrail", west, Name=arn))["Trail"]["TrailARN"] == arn
    described = await call(ops, "DescribeTrails", west, trailNameList=[arn])
    assert [t["TrailARN"] for t in described["trailList"]] == [arn]
    # by name, only this region's trails
    assert (await call(ops, "DescribeTrails", west, trailNameList=["single"]))["trailList"] == []
    assert (await call(ops, "GetTrailStatus", west, Name=arn))["IsLogging"] is False
    assert (await call(ops, "GetEventSelectors", west, TrailName=arn))["TrailARN"] == arn
    for op, args in (
        ("UpdateTrail", {"Name": arn}),
        ("DeleteTrail", {"Name": arn}),
        ("StartLogging", {"Name": arn}),
        ("PutEventSelectors", {"TrailName": arn, "EventSelectors": [{"ReadWriteType": "All"}]}),
        ("PutEventConfiguration", {"TrailName": arn, "AggregationConfigurations": []}),
    ):
        assert await code(ops, op, west, **args) == "InvalidHomeRegionException", op
    assert await code(ops, "DeleteTrail", west, Name="single") == "TrailNotFoundException"
    await call(ops, "DeleteTrail", Name=arn)  # from its home region


async def test_event_configuration_of_a_trail(ops: Operations) -> None:
    arn = (await call(ops, "CreateTrail", Name="agg", S3BucketName="my-bucket"))["TrailARN"]
    put = {
        "TrailName": "agg",
        "AggregationConfigurations": [
            {"EventCategory": "Data", "Templates": ["API_ACTIVITY", "RESOURCE_ACCESS"]}
        ],
    }
    # no data events on the trail yet
    assert await code(ops, "PutEventConfiguration", **put) == "InvalidParameterCombinationException"
    await call(
        ops,
        "PutEventSelectors",
        TrailName="agg",
        AdvancedEventSelectors=[
            {
                "FieldSelectors": [
                    {"Field": "eventCategory", "Equals": ["Data"]},
                    {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
                ]
            }
        ],
    )
    out = await call(ops, "PutEventConfiguration", **put)
    assert out == {"TrailARN": arn, "AggregationConfigurations": put["AggregationConfigurations"]}
    assert await call(ops, "GetEventConfiguration", TrailName=arn) == out
    bad = [
        [{"EventCategory": "Management", "Templates": ["API_ACTIVITY"]}],
        [{"EventCategory": "Data", "Templates": ["TOP_TALKERS"]}],
        [{"EventCategory": "Data", "Templates": []}],
    ]
    for configurations in bad:
        assert (
            await code(
                ops,
                "PutEventConfiguration",
                TrailName="agg",
                AggregationConfigurations=configurations,
            )
            == "InvalidParameterException"
        ), configurations
    assert await code(ops, "PutEventConfiguration", TrailName="agg", MaxEventSize="Large") == (
        "InvalidParameterCombinationException"
    )
    assert await code(ops, "GetEventConfiguration", EventDataStore="eds") == (
        "UnsupportedOperationException"
    )
    off = await call(ops, "PutEventConfiguration", TrailName="agg", AggregationConfigurations=[])
    assert off == {"TrailARN": arn, "AggregationConfigurations": []}


async def test_accounts_are_isolated(ops: Operations) -> None:
    out = await call(ops, "CreateTrail", Name="mine", S3BucketName="my-bucket")
    bob = caller(BOB)
    assert (await call(ops, "DescribeTrails", bob))["trailList"] == []
    assert (await call(ops, "ListTrails", bob))["Trails"] == []
    for name in ("mine", out["TrailARN"]):
        assert await code(ops, "GetTrail", bob, Name=name) == "TrailNotFoundException"
        assert await code(ops, "DeleteTrail", bob, Name=name) == "TrailNotFoundException"
        assert await code(ops, "StopLogging", bob, Name=name) == "TrailNotFoundException"
        assert await code(ops, "GetTrailStatus", bob, Name=name) == "TrailNotFoundException"
    assert await code(ops, "ListTags", bob, ResourceIdList=[out["TrailARN"]]) == (
        "ResourceNotFoundException"
    )
    assert await code(ops, "AddTags", bob, ResourceId=out["TrailARN"], TagsList=[{"Key": "k"}]) == (
        "ResourceNotFoundException"
    )
    described = await call(ops, "DescribeTrails", bob, trailNameList=[out["TrailARN"]])
    assert described["trailList"] == []
    # Bob may use the same name: names are per account
    await call(ops, "CreateTrail", bob, Name="mine", S3BucketName="my-bucket")
    assert (await call(ops, "GetTrail", Name="mine"))["Trail"]["TrailARN"] == out["TrailARN"]


async def test_logging_times(ops: Operations) -> None:
    await call(ops, "CreateTrail", Name="trail-t", S3BucketName="my-bucket")
    await call(ops, "StartLogging", Name="trail-t")
    status = await call(ops, "GetTrailStatus", Name="trail-t")
    assert status["IsLogging"] is True
    assert status["StartLoggingTime"].endswith("Z")
    assert status["TimeLoggingStarted"] == status["StartLoggingTime"][:19] + "Z"
    await call(ops, "StopLogging", Name="trail-t")
    status = await call(ops, "GetTrailStatus", Name="trail-t")
    assert status["IsLogging"] is False
    assert status["TimeLoggingStopped"]


async def test_status_source_seam(ops: Operations) -> None:
    class Status:
        def status(self, trail_arn: str, region: str) -> dict[str, Any]:
            return {"LatestDeliveryTime": "2015-09-01T20:35:57Z", "LatestDeliveryError": None}

    ops.status = Status()
    await call(ops, "CreateTrail", Name="trail-t", S3BucketName="my-bucket")
    status = await call(ops, "GetTrailStatus", Name="trail-t")
    assert status["LatestDeliveryTime"] == "2015-09-01T20:35:57Z"
    assert status["LatestDeliveryAttemptSucceeded"] == "2015-09-01T20:35:57Z"


async def test_event_selectors(ops: Operations) -> None:
    await call(ops, "CreateTrail", Name="TrailName", S3BucketName="my-bucket")
    default = await call(ops, "GetEventSelectors", TrailName="TrailName")
    assert default["EventSelectors"] == [
        {
            "ReadWriteType": "All",
            "IncludeManagementEvents": True,
            "DataResources": [],
            "ExcludeManagementEventSources": [],
        }
    ]
    advanced = [
        {
            "Name": "a",
            "FieldSelectors": [
                {"Field": "eventCategory", "Equals": ["Data"]},
                {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
            ],
        }
    ]
    out = await call(
        ops, "PutEventSelectors", TrailName="TrailName", AdvancedEventSelectors=advanced
    )
    assert out["AdvancedEventSelectors"] == advanced
    got = await call(ops, "GetEventSelectors", TrailName="TrailName")
    assert got["AdvancedEventSelectors"] == advanced
    assert "EventSelectors" not in got
    assert (await call(ops, "GetTrail", Name="TrailName"))["Trail"]["HasCustomEventSelectors"]
    assert await code(ops, "PutEventSelectors", TrailName="TrailName") == (
        "InvalidEventSelectorsException"
    )


async def test_tags(ops: Operations) -> None:
    arn = (await call(ops, "CreateTrail", Name="trail-t", S3BucketName="my-bucket"))["TrailARN"]
    await call(ops, "AddTags", ResourceId=arn, TagsList=[{"Key": "Owner", "Value": "Mary"}])
    await call(ops, "AddTags", ResourceId=arn, TagsList=[{"Key": "Name", "Value": "x"}])
    await call(ops, "RemoveTags", ResourceId=arn, TagsList=[{"Key": "Name"}])
    tags = await call(ops, "ListTags", ResourceIdList=[arn])
    assert tags["ResourceTagList"] == [
        {"ResourceId": arn, "TagsList": [{"Key": "Owner", "Value": "Mary"}]}
    ]
    assert await code(ops, "AddTags", ResourceId="t", TagsList=[]) == (
        "CloudTrailARNInvalidException"
    )
    assert await code(ops, "AddTags", ResourceId=arn, TagsList=[{"Key": "aws:x"}]) == (
        "InvalidTagParameterException"
    )
    many = [{"Key": f"k{i}", "Value": "v"} for i in range(51)]
    assert await code(ops, "AddTags", ResourceId=arn, TagsList=many) == (
        "TagsLimitExceededException"
    )


async def test_list_trails_pages_across_regions(ops: Operations) -> None:
    made = set()
    for region in ("us-east-1", "us-east-2"):
        for i in range(3):
            out = await call(
                ops,
                "CreateTrail",
                caller(region=region),
                Name=f"trail{i}",
                S3BucketName="my-bucket",
            )
            made.add(out["TrailARN"])
    seen, token, pages = [], None, 0
    while True:
        params = {"NextToken": token} if token else {}
        page = await call(ops, "ListTrails", **params)
        pages += 1
        seen.extend(t["TrailARN"] for t in page["Trails"])
        token = page.get("NextToken")
        if not token:
            break
    assert pages == 2
    assert sorted(seen) == sorted(made)
    assert await code(ops, "ListTrails", NextToken="garbage") == "InvalidTokenException"


async def test_delete_then_recreate(ops: Operations) -> None:
    await call(ops, "CreateTrail", Name="trail-t", S3BucketName="my-bucket")
    await call(ops, "DeleteTrail", Name="trail-t")
    assert await code(ops, "GetTrail", Name="trail-t") == "TrailNotFoundException"
    await call(ops, "CreateTrail", Name="trail-t", S3BucketName="my-bucket")


async def test_insights_and_unsupported(ops: Operations) -> None:
    await call(ops, "CreateTrail", Name="trail-t", S3BucketName="my-bucket")
    # today's API; the guide's 2019 default (line 5016) was {"InsightType": ""}
    assert await code(ops, "GetInsightSelectors", TrailName="trail-t") == (
        "InsightNotEnabledException"
    )
    assert await code(ops, "GetInsightSelectors", TrailName="missing") == "TrailNotFoundException"
    assert (
        await code(ops, "CreateEventDataStore", Name="missing") == "UnsupportedOperationException"
    )


async def test_malformed_arn(ops: Operations) -> None:
    assert await code(ops, "GetTrail", Name="arn:aws:cloudtrail:nope") == (
        "CloudTrailARNInvalidException"
    )


async def test_list_public_keys_default_empty(ops: Operations) -> None:
    assert (await call(ops, "ListPublicKeys"))["PublicKeyList"] == []


async def test_delivery_status_source_reads_the_writer_shape(ops: Operations) -> None:
    from dataclasses import dataclass

    from recorder.api.sources import DeliveryStatusSource

    @dataclass
    class WriterStatus:  # recorder.delivery.writer.TrailDeliveryStatus's fields
        latest_delivery_time: str | None = "2015-09-01T20:35:57Z"
        latest_delivery_error: str | None = None
        latest_notification_time: str | None = None
        latest_notification_error: str | None = "AuthorizationError"

    arn = (await call(ops, "CreateTrail", Name="trail-t", S3BucketName="my-bucket"))["TrailARN"]
    ops.status = DeliveryStatusSource({arn: WriterStatus()})
    status = await call(ops, "GetTrailStatus", Name="trail-t")
    assert status["LatestDeliveryTime"] == "2015-09-01T20:35:57Z"
    assert status["LatestNotificationError"] == "AuthorizationError"
    assert "LatestDeliveryError" not in status
    assert status["LatestNotificationAttemptTime"] == ""


class LaggingReplica(MemoryStore):
    """Another replica's view of ``source``: it applies the writes made through the
    source only when asked to be fresh, as a replica that follows the ``trails`` log
    on its own and is a moment behind."""

    def __init__(self, source: MemoryStore) -> None:
        super().__init__()
        self.source = source
        self.refreshed = 0

    async def fresh(self) -> None:
        self.refreshed += 1
        for arn in set(self.docs) - set(self.source.docs):
            await self.delete(arn)
        for arn, doc in self.source.docs.items():
            if self.docs.get(arn) is not doc:
                await self.put(arn, doc)


async def test_every_read_first_catches_up_with_what_other_replicas_wrote() -> None:
    written = MemoryStore()
    writer = Operations(store=written, checks=FakeChecks(), list_page_size=3)
    replica = LaggingReplica(written)
    reader = Operations(store=replica, checks=FakeChecks(), list_page_size=3)
    arn = (await call(writer, "CreateTrail", Name="seen", S3BucketName="my-bucket"))["TrailARN"]
    assert (await call(reader, "GetTrail", Name=arn))["Trail"]["TrailARN"] == arn
    await call(writer, "StartLogging", Name=arn)
    assert (await call(reader, "GetTrailStatus", Name=arn))["IsLogging"] is True
    await call(writer, "AddTags", ResourceId=arn, TagsList=[{"Key": "k", "Value": "v"}])
    tags = await call(reader, "ListTags", ResourceIdList=[arn])
    assert tags["ResourceTagList"][0]["TagsList"] == [{"Key": "k", "Value": "v"}]
    await call(writer, "DeleteTrail", Name=arn)
    assert (await call(reader, "DescribeTrails"))["trailList"] == []
    assert await code(reader, "GetTrailStatus", Name=arn) == "TrailNotFoundException"
    assert replica.refreshed == 5
    # a write takes the account's lease instead (it waits for the log up to the lease)
    await call(reader, "CreateTrail", Name="own", S3BucketName="my-bucket")
    assert replica.refreshed == 5
