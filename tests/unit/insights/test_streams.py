"""Which calls feed Insights, and which trails receive an Insights event."""

from __future__ import annotations

import datetime as dt
from typing import Any

from recorder.insights.detector import CALL_RATE, ERROR_RATE, InsightEvent, SeriesKey
from recorder.insights.streams import destinations, epoch_of, series_of
from recorder.trails import Trail

A, B, C = "111111111111", "222222222222", "333333333333"


def call(**kw: Any) -> dict[str, Any]:
    base = {
        "eventTime": "2026-12-01T04:00:07Z",
        "eventSource": "ec2.amazonaws.com",
        "eventName": "AuthorizeSecurityGroupIngress",
        "awsRegion": "us-east-1",
        "recipientAccountId": A,
        "eventType": "AwsApiCall",
    }
    return {**base, **kw}


def test_write_management_calls_feed_call_and_error_series() -> None:
    (calls,) = series_of(call())
    assert calls == SeriesKey(
        A, "us-east-1", "ec2.amazonaws.com", "AuthorizeSecurityGroupIngress", CALL_RATE, ""
    )
    both = series_of(call(errorCode="Client.UnauthorizedOperation"))
    assert [k.insight_type for k in both] == [CALL_RATE, ERROR_RATE]
    assert both[1].error_code == "Client.UnauthorizedOperation"
    assert epoch_of(call()) == dt.datetime(2026, 12, 1, 4, 0, 7, tzinfo=dt.UTC).timestamp()
    assert epoch_of(call(eventTime="yesterday")) is None


def test_reads_data_events_and_non_api_events_feed_nothing() -> None:
    assert series_of(call(eventName="DescribeInstances")) == ()  # read-only (classified)
    assert series_of(call(readOnly=True)) == ()
    assert series_of(call(eventType="AwsConsoleSignIn")) == ()
    assert series_of(call(eventType="AwsCloudTrailInsight")) == ()
    assert series_of(call(awsRegion="")) == ()


def trail(account: str, name: str, **kw: Any) -> Trail:
    doc = {
        "Name": name,
        "TrailARN": f"arn:aws:cloudtrail:{kw.pop('region', 'us-east-1')}:{account}:trail/{name}",
        "S3BucketName": "logs-bucket",
        "InsightSelectors": [{"InsightType": t} for t in kw.pop("types", [CALL_RATE])],
        **kw,
    }
    return Trail.from_api(doc)


def event(key: SeriesKey) -> InsightEvent:
    return InsightEvent(key, "Start", 1, "2026-12-01T04:00:00Z", "e", "s", 20.0, 100.0)


def test_trails_that_receive_an_insight() -> None:
    key = SeriesKey(A, "us-east-1", "s3.amazonaws.com", "DeleteBucket")
    trails = [
        trail(A, "home"),
        trail(A, "multi", region="eu-west-1", IsMultiRegionTrail=True),
        trail(A, "elsewhere", region="eu-west-1"),  # single-region, other region
        trail(A, "errors-only", types=[ERROR_RATE]),
        trail(A, "stopped", IsLogging=False),
        trail(A, "off", types=[]),
        trail(B, "other-account"),
        trail(C, "org", IsOrganizationTrail=True, IsMultiRegionTrail=True),
    ]
    got = destinations(event(key), trails, {A: "o-one", C: "o-one"})
    # the organization trail files it under AWSLogs/<org-id>/<account>/
    assert sorted((d.trail_arn.rsplit("/", 1)[1], d.org_id, d.insight) for d in got) == [
        ("home", None, True),
        ("multi", None, True),
        ("org", "o-one", True),
    ]
    assert all(d.account_id == A and d.region == "us-east-1" for d in got)
    # not in the organization: the organization trail does not get it
    alone = destinations(event(key), trails, {C: "o-one"})
    assert sorted(d.trail_arn.rsplit("/", 1)[1] for d in alone) == ["home", "multi"]


def test_data_events_feed_series_read_and_write_and_reach_data_insights_only() -> None:
    (get,) = series_of(call(eventSource="s3.amazonaws.com", eventName="GetObject"))
    assert get == SeriesKey(A, "us-east-1", "s3.amazonaws.com", "GetObject", CALL_RATE, "")
    (put,) = series_of(call(eventSource="s3.amazonaws.com", eventName="PutObject", readOnly=False))
    assert put.event_name == "PutObject"
    management = series_of(call())[0]
    data_only = Trail.from_api(
        {
            "Name": "data-only",
            "TrailARN": f"arn:aws:cloudtrail:us-east-1:{A}:trail/data-only",
            "S3BucketName": "logs-bucket",
            "InsightSelectors": [{"InsightType": CALL_RATE, "EventCategories": ["Data"]}],
        }
    )
    both = Trail.from_api(
        {
            "Name": "both-kinds",
            "TrailARN": f"arn:aws:cloudtrail:us-east-1:{A}:trail/both-kinds",
            "S3BucketName": "logs-bucket",
            "InsightSelectors": [
                {"InsightType": CALL_RATE, "EventCategories": ["Management", "Data"]}
            ],
        }
    )
    default = trail(A, "management")  # no EventCategories: management only

    def names(k: SeriesKey) -> list[str]:
        targets = destinations(event(k), [data_only, both, default], {})
        return [d.trail_arn.rsplit("/", 1)[1] for d in targets]

    assert names(get) == ["both-kinds", "data-only"]
    assert names(management) == ["both-kinds", "management"]
