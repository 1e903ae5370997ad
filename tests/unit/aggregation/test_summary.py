"""Aggregated events (AWS's "CloudTrail record contents for aggregated events" and its
API_ACTIVITY / RESOURCE_ACCESS examples): windows by event time, exact counts per
template, one summary per primary value, derived IDs, state that round-trips."""

from __future__ import annotations

import orjson

from recorder.aggregation.summary import (
    API_ACTIVITY,
    RESOURCE_ACCESS,
    USER_ACTIONS,
    Aggregator,
    Call,
    window_size,
)
from recorder.trails.destination import AGGREGATED, Destination

TRAIL = "arn:aws:cloudtrail:us-west-2:111122223333:trail/t"
DEST = Destination(TRAIL, "111122223333", "us-west-2")
KEY = DEST.key()
START = 1763407200  # 2025-11-17T19:20:00Z, AWS's example window
ALICE = "arn:aws:iam::111122223333:user/Alice"
BOB = "arn:aws:iam::111122223333:user/Bob"


def _put(bucket: str, user: str = ALICE, name: str = "PutObject") -> Call:
    return Call("s3.amazonaws.com", name, f"arn:aws:s3:::{bucket}", user)


def _fill(agg: Aggregator) -> None:
    n = 0
    for bucket, count in (("bucket-1", 8), ("bucket-2", 3), ("bucket-3", 1)):
        for _ in range(count):
            n += 1
            assert agg.observe(KEY, START + n, f"e{n}", _put(bucket)) == "counted"
    for _ in range(2):
        n += 1
        agg.observe(KEY, START + n, f"e{n}", _put("bucket-1", BOB, "GetObject"))


def test_api_activity_as_aws_shows_it() -> None:
    agg = Aggregator(300)
    _fill(agg)
    out = agg.close_through(START + 600, lambda d: (API_ACTIVITY,))
    assert [d for d, _ in out] == [
        Destination(TRAIL, "111122223333", "us-west-2", kind=AGGREGATED)
    ] * 2
    get, put = (r for _, r in out)
    assert list(put) == [
        "eventVersion",
        "accountId",
        "eventId",
        "eventCategory",
        "eventType",
        "awsRegion",
        "eventSource",
        "timeWindow",
        "summary",
    ]
    assert put["eventVersion"] == "1.0" and put["accountId"] == "111122223333"
    assert (put["eventCategory"], put["eventType"]) == ("Aggregated", "AwsAggregatedEvent")
    assert put["timeWindow"] == {
        "windowStart": "2025-11-17T19:20:00Z",
        "windowEnd": "2025-11-17T19:25:00Z",
        "windowSize": "PT5M",
    }
    assert put["summary"] == {
        "primaryDimension": {
            "dimension": "eventName",
            "statistics": [{"name": "PutObject", "value": 12}],
            "aggregationType": "Count",
        },
        "details": [
            {
                "dimension": "resourceARN",
                "statistics": [
                    {"name": "arn:aws:s3:::bucket-1", "value": 8},
                    {"name": "arn:aws:s3:::bucket-2", "value": 3},
                    {"name": "arn:aws:s3:::bucket-3", "value": 1},
                ],
                "aggregationType": "Count",
            }
        ],
    }
    assert get["summary"]["primaryDimension"]["statistics"] == [{"name": "GetObject", "value": 2}]
    assert not agg.windows


def test_resource_access_and_user_actions() -> None:
    agg = Aggregator(300)
    _fill(agg)
    out = [r for _, r in agg.close_through(START + 600, lambda d: (RESOURCE_ACCESS, USER_ACTIONS))]
    by = {
        (
            r["summary"]["primaryDimension"]["dimension"],
            r["summary"]["primaryDimension"]["statistics"][0]["name"],
        ): r
        for r in out
    }
    bucket1 = by[("resourceARN", "arn:aws:s3:::bucket-1")]["summary"]
    assert bucket1["primaryDimension"]["statistics"][0]["value"] == 10
    assert bucket1["details"][0]["statistics"] == [
        {"name": "PutObject", "value": 8},
        {"name": "GetObject", "value": 2},
    ]
    assert (
        by[("userIdentity", ALICE)]["summary"]["primaryDimension"]["statistics"][0]["value"] == 12
    )
    assert by[("userIdentity", BOB)]["summary"]["details"][0]["statistics"] == [
        {"name": "GetObject", "value": 2}
    ]
    assert len(out) == 5  # 3 buckets + 2 users


def test_windows_close_by_event_time_and_late_or_repeated_events_are_not_counted() -> None:
    agg = Aggregator(10)
    assert agg.observe(KEY, START + 1, "a", _put("b")) == "counted"
    assert agg.observe(KEY, START + 1, "a", _put("b")) == "duplicate"  # routed twice
    assert agg.observe(KEY, START + 12, "b", _put("b")) == "counted"
    # the first window ends at START+10: open until the watermark passes it
    assert agg.close_through(START + 9.9, lambda d: (API_ACTIVITY,)) == []
    first = agg.close_through(START + 10, lambda d: (API_ACTIVITY,))
    assert [r["timeWindow"]["windowSize"] for _, r in first] == ["PT10S"]
    assert agg.observe(KEY, START + 5, "c", _put("b")) == "late"
    second = agg.close_through(START + 25, lambda d: (API_ACTIVITY,))
    assert [r["summary"]["primaryDimension"]["statistics"][0]["value"] for _, r in second] == [1]
    # a trail whose aggregation was turned off meanwhile gets nothing
    agg.observe(KEY, START + 31, "d", _put("b"))
    assert agg.close_through(START + 45, lambda d: ()) == []


def test_state_round_trips_and_ids_are_derived() -> None:
    agg = Aggregator(300)
    _fill(agg)
    copy = Aggregator.restore(300, orjson.loads(orjson.dumps(agg.snapshot())))
    assert copy.observe(KEY, START + 1, "e1", _put("bucket-1")) == "duplicate"
    a = agg.close_through(START + 600, lambda d: (API_ACTIVITY,))
    b = copy.close_through(START + 600, lambda d: (API_ACTIVITY,))
    assert a == b  # the same summaries, the same eventIds, after a restore


def test_window_size_is_iso_8601() -> None:
    assert [window_size(s) for s in (300, 5, 3600, 90)] == ["PT5M", "PT5S", "PT1H", "PT1M30S"]
