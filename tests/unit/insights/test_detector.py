"""The Insights rule on synthetic per-minute series (guide lines 367-373, 4957-4980)."""

from __future__ import annotations

import math
import random

import pytest

from recorder.insights.detector import (
    CALL_RATE,
    ERROR_RATE,
    Detector,
    InsightEvent,
    Rule,
    SeriesKey,
    replay,
)

RULE = Rule(window=30)  # the default rule (k=4, floors 0.1*mean and 1), a 30-minute baseline
START = 29_000_000  # a minute index (2025-02-20), aligned so eventTimes are whole minutes
DELETE_BUCKET = SeriesKey("123456789012", "us-east-1", "s3.amazonaws.com", "DeleteBucket")
INGRESS = SeriesKey(
    "123456789012", "us-east-1", "ec2.amazonaws.com", "AuthorizeSecurityGroupIngress"
)


def _stats(e: InsightEvent) -> dict[str, object]:
    return e.to_record()["insightDetails"]["insightContext"]["statistics"]  # type: ignore[no-any-return]


def test_rise_from_20_to_100_delete_bucket_per_minute_is_one_pair() -> None:
    """Guide line 372: typically <= 20 DeleteBucket a minute, then an average of 100."""
    series = [20] * 40 + [100] * 5 + [20] * 10
    events = replay(RULE, {DELETE_BUCKET: series}, START)
    assert [e.state for e in events] == ["Start", "End"]
    start, end = events
    assert start.bucket == START + 40 and end.bucket == START + 45
    assert _stats(start) == {"baseline": {"average": 20}, "insight": {"average": 100}}
    assert _stats(end) == {
        "baseline": {"average": 20},
        "insight": {"average": 100},
        "insightDuration": 5,
    }
    assert start.shared_event_id == end.shared_event_id
    assert start.event_id != end.event_id


def test_drop_from_20_to_zero_authorize_ingress_ends_ten_minutes_later() -> None:
    """Guide line 373: 20 calls a minute, then none; the End comes ten minutes later.
    The silent minutes have no call at all: closing them is what detects the drop."""
    series = [20] * 40 + [0] * 10 + [20] * 5
    events = replay(RULE, {INGRESS: series}, START)
    assert [e.state for e in events] == ["Start", "End"]
    start, end = events
    assert end.bucket - start.bucket == 10
    assert _stats(start) == {"baseline": {"average": 20}, "insight": {"average": 0}}
    assert _stats(end)["insightDuration"] == 10
    assert _stats(end)["insight"] == {"average": 0}


def test_steady_and_noisy_traffic_gives_nothing() -> None:
    steady = [20] * 300
    # A deterministic wobble of +-4 around 20 (std ~2.9): inside mean +- 3 s.
    wobbly = [20 + round(4 * math.sin(i * 0.7)) for i in range(300)]
    assert replay(RULE, {DELETE_BUCKET: steady, INGRESS: wobbly}, START) == []


def test_nothing_is_detected_while_learning() -> None:
    series = [20] * 10 + [100] * 5 + [20] * 5  # the burst falls inside the window
    assert replay(RULE, {DELETE_BUCKET: series}, START) == []


def test_guide_record_shape_and_times() -> None:
    events = replay(RULE, {DELETE_BUCKET: [20] * 40 + [100] * 3 + [20]}, START)
    record = events[0].to_record()
    assert list(record) == [
        "eventVersion",
        "eventTime",
        "awsRegion",
        "eventID",
        "eventType",
        "recipientAccountId",
        "sharedEventID",
        "insightDetails",
        "eventCategory",
    ]
    assert record["eventType"] == "AwsCloudTrailInsight"
    assert record["eventCategory"] == "Insight"
    assert record["eventTime"].endswith(":00Z")
    details = record["insightDetails"]
    assert list(details) == ["state", "eventSource", "eventName", "insightType", "insightContext"]
    assert details["insightType"] == CALL_RATE
    assert "insightDuration" not in details["insightContext"]["statistics"]


def test_error_rate_insight_names_its_error_code() -> None:
    key = DELETE_BUCKET._replace(insight_type=ERROR_RATE, error_code="AccessDenied")
    events = replay(RULE, {key: [1] * 40 + [30] * 2 + [1]}, START)
    assert [e.state for e in events] == ["Start", "End"]
    details = events[0].to_record()["insightDetails"]
    assert details["insightType"] == ERROR_RATE
    assert details["errorCode"] == "AccessDenied"
    assert _stats(events[1])["insightDuration"] == 2


def test_a_new_api_after_learning_has_a_zero_baseline() -> None:
    """Like the guide's PutLifecycleHook example (baseline ~0): a series first seen after
    learning had zeros before, so a handful of calls is unusual (more than k * 1 = 4)."""
    other = SeriesKey("123456789012", "us-east-1", "sqs.amazonaws.com", "SendMessage")
    events = replay(RULE, {other: [5] * 50, DELETE_BUCKET: [0] * 40 + [5, 0]}, START)
    assert [(e.key, e.state) for e in events] == [(DELETE_BUCKET, "Start"), (DELETE_BUCKET, "End")]
    assert _stats(events[0]) == {"baseline": {"average": 0}, "insight": {"average": 5}}
    assert replay(RULE, {other: [5] * 50, DELETE_BUCKET: [0] * 40 + [4, 0]}, START) == []


def _poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method: calls in a minute of a steady random stream."""
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def test_the_guide_examples_with_random_traffic() -> None:
    """20 calls a minute as a random (Poisson) stream, not a constant: the rise to 100
    and the drop to none each still give exactly one pair, and the noise alone none."""
    rng = random.Random(15)
    noise = [_poisson(rng, 20) for _ in range(400)]
    assert replay(RULE, {DELETE_BUCKET: noise}, START) == []
    rise = noise[:60] + [_poisson(rng, 100) for _ in range(5)] + noise[60:120]
    events = replay(RULE, {DELETE_BUCKET: rise}, START)
    assert [(e.state, e.bucket - START) for e in events] == [("Start", 60), ("End", 65)]
    assert 15 < events[0].baseline < 25 and events[1].duration == 5
    drop = noise[:60] + [0] * 10 + noise[60:120]
    events = replay(RULE, {INGRESS: drop}, START)
    assert [(e.state, e.bucket - START) for e in events] == [("Start", 60), ("End", 70)]
    assert _stats(events[1])["insight"] == {"average": 0}


def test_series_are_independent() -> None:
    other = DELETE_BUCKET._replace(account_id="210987654321")
    events = replay(RULE, {DELETE_BUCKET: [20] * 60, other: [20] * 40 + [100] + [20] * 5}, START)
    assert {e.key for e in events} == {other}


def _feed(det: Detector, key: SeriesKey, series: list[int], first: int) -> list[InsightEvent]:
    out = []
    for i, n in enumerate(series):
        if n:
            det.observe(key, first + i, n)
        out += det.close_through(first + i)
    return out


@pytest.mark.parametrize("cut", [41, 42, 44])
def test_restart_mid_insight_gives_no_second_start_and_one_end(cut: int) -> None:
    """A detector restored from a snapshot taken while the insight is open continues
    it: no new Start, exactly one End, with the statistics of the uninterrupted run."""
    series = [20] * 40 + [100] * 5 + [20] * 10
    whole = replay(RULE, {DELETE_BUCKET: series}, START)
    first = Detector(RULE)
    before = _feed(first, DELETE_BUCKET, series[:cut], START)
    assert [e.state for e in before] == ["Start"]
    restored = Detector.restore(RULE, _roundtrip(first.snapshot()))
    after = _feed(restored, DELETE_BUCKET, series[cut:], START + cut)
    assert [e.state for e in after] == ["End"]
    assert before + after == whole


def test_a_decision_made_again_from_an_earlier_snapshot_has_the_same_ids() -> None:
    """Crash after the Start went out but before the snapshot that records it: the
    replay from the previous snapshot decides the same Start with the same eventID and
    sharedEventID, which the writer's eventID de-duplication drops."""
    series = [20] * 40 + [100] * 5 + [20] * 10
    det = Detector(RULE)
    _feed(det, DELETE_BUCKET, series[:40], START)
    saved = _roundtrip(det.snapshot())
    first_try = _feed(det, DELETE_BUCKET, series[40:], START + 40)
    second_try = _feed(Detector.restore(RULE, saved), DELETE_BUCKET, series[40:], START + 40)
    assert first_try == second_try
    assert [e.state for e in first_try] == ["Start", "End"]


def test_late_calls_are_refused_and_pending_buckets_survive_a_snapshot() -> None:
    det = Detector(RULE)
    assert det.observe(DELETE_BUCKET, START, 3)
    det.close_through(START)
    assert not det.observe(DELETE_BUCKET, START, 1)  # closed: late
    assert det.observe(DELETE_BUCKET, START + 2, 7)
    restored = Detector.restore(RULE, _roundtrip(det.snapshot()))
    assert restored.pending == det.pending
    assert restored.closed_through == START


def test_long_quiet_gap_before_any_call_closes_in_one_step() -> None:
    det = Detector(RULE)
    det.observe(DELETE_BUCKET, START, 1)
    det.close_through(START)
    det.series.clear()  # nothing known (forgotten)
    det.close_through(START + 10_000_000)
    assert det.closed_count == 10_000_001
    assert det.weight == pytest.approx(RULE.window, rel=1e-6)


def _roundtrip(doc: dict[str, object]) -> dict[str, object]:
    import orjson

    return orjson.loads(orjson.dumps(doc))  # type: ignore[no-any-return]
