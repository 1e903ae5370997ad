"""PutInsightSelectors / GetInsightSelectors / HasInsightSelectors / StopLogging, as the
guide (lines 277, 3436-3460, 3662, 5016-5035) and the API reference say."""

from __future__ import annotations

import pytest

from recorder.api.operations import Operations
from recorder.api.store import MemoryStore
from recorder.trails import Trail
from tests.unit.api.doubles import FakeChecks
from tests.unit.api.test_operations import ALICE, BOB, call, caller, code

ARN = f"arn:aws:cloudtrail:us-east-2:{ALICE}:trail/TrailName3"


@pytest.fixture
async def ops() -> Operations:
    o = Operations(store=MemoryStore(), checks=FakeChecks())
    await call(o, "CreateTrail", Name="TrailName3", S3BucketName="my-bucket")
    return o


async def test_put_get_and_turn_off_like_the_guide(ops: Operations) -> None:
    out = await call(
        ops,
        "PutInsightSelectors",
        TrailName="TrailName3",
        InsightSelectors=[{"InsightType": "ApiCallRateInsight"}],
    )
    assert out == {"InsightSelectors": [{"InsightType": "ApiCallRateInsight"}], "TrailARN": ARN}
    assert await call(ops, "GetInsightSelectors", TrailName="TrailName3") == out
    assert (await call(ops, "GetTrail", Name="TrailName3"))["Trail"]["HasInsightSelectors"]
    off = await call(ops, "PutInsightSelectors", TrailName="TrailName3", InsightSelectors=[])
    assert off == {"InsightSelectors": [], "TrailARN": ARN}
    # today's API (the guide's 2019 answer was a selector with an empty InsightType)
    assert await code(ops, "GetInsightSelectors", TrailName="TrailName3") == (
        "InsightNotEnabledException"
    )
    assert not (await call(ops, "GetTrail", Name="TrailName3"))["Trail"]["HasInsightSelectors"]


async def test_both_types_and_the_stored_trail_reads_back(ops: Operations) -> None:
    both = [{"InsightType": "ApiCallRateInsight"}, {"InsightType": "ApiErrorRateInsight"}]
    await call(ops, "PutInsightSelectors", TrailName=ARN, InsightSelectors=both)
    trail = Trail.from_api(ops.store.document(ARN))  # type: ignore[arg-type]
    assert trail.insight_types == ("ApiCallRateInsight", "ApiErrorRateInsight")
    assert trail.has_insight_selectors


@pytest.mark.parametrize(
    "selectors",
    [
        [{"InsightType": "ApiCallRate"}],
        [{"InsightType": "ApiCallRateInsight"}, {"InsightType": "ApiCallRateInsight"}],
        # a trail without data events takes no data Insights
        [{"InsightType": "ApiCallRateInsight", "EventCategories": ["Data"]}],
        [{"InsightType": "ApiCallRateInsight", "EventCategories": ["Insight"]}],
        [{"InsightType": "ApiCallRateInsight", "EventCategories": []}],
        [{"InsightType": "ApiCallRateInsight", "EventCategories": ["Data", "Data"]}],
    ],
)
async def test_invalid_selectors(ops: Operations, selectors: list[dict[str, object]]) -> None:
    assert (
        await code(ops, "PutInsightSelectors", TrailName="TrailName3", InsightSelectors=selectors)
        == "InvalidInsightSelectorsException"
    )


@pytest.mark.parametrize(
    "selectors",
    [
        {"EventSelectors": [{"ReadWriteType": "ReadOnly", "IncludeManagementEvents": True}]},
        {"EventSelectors": [{"ReadWriteType": "All", "IncludeManagementEvents": False}]},
        {
            "AdvancedEventSelectors": [
                {
                    "FieldSelectors": [
                        {"Field": "eventCategory", "Equals": ["Management"]},
                        {"Field": "readOnly", "Equals": ["true"]},
                    ]
                }
            ]
        },
    ],
)
async def test_a_trail_without_write_management_events_cannot_turn_insights_on(
    ops: Operations, selectors: dict[str, object]
) -> None:
    """Guide line 277: a trail that logs read-only or no management events cannot."""
    await call(ops, "PutEventSelectors", TrailName="TrailName3", **selectors)
    assert (
        await code(
            ops,
            "PutInsightSelectors",
            TrailName="TrailName3",
            InsightSelectors=[{"InsightType": "ApiCallRateInsight"}],
        )
        == "InvalidInsightSelectorsException"
    )
    # Turning Insights off is always allowed.
    await call(ops, "PutInsightSelectors", TrailName="TrailName3", InsightSelectors=[])


async def test_write_only_management_events_are_enough(ops: Operations) -> None:
    await call(
        ops,
        "PutEventSelectors",
        TrailName="TrailName3",
        EventSelectors=[{"ReadWriteType": "WriteOnly", "IncludeManagementEvents": True}],
    )
    await call(
        ops,
        "PutInsightSelectors",
        TrailName="TrailName3",
        InsightSelectors=[{"InsightType": "ApiErrorRateInsight"}],
    )


async def test_stop_logging_turns_insights_off(ops: Operations) -> None:
    """Guide line 3662: if you stop logging, CloudTrail Insights is disabled."""
    await call(ops, "StartLogging", Name="TrailName3")
    await call(
        ops,
        "PutInsightSelectors",
        TrailName="TrailName3",
        InsightSelectors=[{"InsightType": "ApiCallRateInsight"}],
    )
    await call(ops, "StopLogging", Name="TrailName3")
    assert not (await call(ops, "GetTrail", Name="TrailName3"))["Trail"]["HasInsightSelectors"]
    assert await code(ops, "GetInsightSelectors", TrailName="TrailName3") == (
        "InsightNotEnabledException"
    )
    await call(ops, "StartLogging", Name="TrailName3")  # does not turn them back on
    assert not (await call(ops, "GetTrail", Name="TrailName3"))["Trail"]["HasInsightSelectors"]


async def test_home_region_other_accounts_and_event_data_stores(ops: Operations) -> None:
    put = {"InsightSelectors": [{"InsightType": "ApiCallRateInsight"}]}
    assert (
        await code(ops, "PutInsightSelectors", caller(BOB), TrailName=ARN, **put)
        == "TrailNotFoundException"
    )
    assert (
        await code(ops, "PutInsightSelectors", TrailName="absent", **put)
        == "TrailNotFoundException"
    )
    assert (
        await code(ops, "GetInsightSelectors", EventDataStore="eds")
        == "UnsupportedOperationException"
    )


async def test_insight_not_enabled_answers_as_aws_does(ops: Operations) -> None:
    from recorder.api.protocol import ApiError

    with pytest.raises(ApiError) as err:
        await call(ops, "GetInsightSelectors", TrailName="TrailName3")
    assert err.value.code == "InsightNotEnabledException"
    assert err.value.message == (
        f"Trail {ARN} does not have Insights enabled. Edit the trail settings to enable "
        "Insights, and then try the operation again."
    )


async def test_data_insights_on_a_trail_that_logs_data_events(ops: Operations) -> None:
    await call(
        ops,
        "PutEventSelectors",
        TrailName="TrailName3",
        EventSelectors=[
            {
                "ReadWriteType": "All",
                "IncludeManagementEvents": True,
                "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3"]}],
            }
        ],
    )
    selectors = [
        {"InsightType": "ApiCallRateInsight", "EventCategories": ["Data"]},
        {"InsightType": "ApiErrorRateInsight", "EventCategories": ["Data", "Management"]},
    ]
    out = await call(ops, "PutInsightSelectors", TrailName="TrailName3", InsightSelectors=selectors)
    assert out == {"TrailARN": ARN, "InsightSelectors": selectors}
    assert await call(ops, "GetInsightSelectors", TrailName="TrailName3") == out
    trail = Trail.from_api(ops.store.document(ARN))  # type: ignore[arg-type]
    assert trail.categories_of("ApiCallRateInsight") == ("Data",)
    assert trail.categories_of("ApiErrorRateInsight") == ("Data", "Management")
    # management only stays the default
    await call(
        ops,
        "PutInsightSelectors",
        TrailName="TrailName3",
        InsightSelectors=[{"InsightType": "ApiCallRateInsight"}],
    )
    trail = Trail.from_api(ops.store.document(ARN))  # type: ignore[arg-type]
    assert trail.categories_of("ApiCallRateInsight") == ("Management",)
    assert trail.categories_of("ApiErrorRateInsight") == ()
