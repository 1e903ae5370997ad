"""The Insights rule on synthetic per-minute series (guide lines 367-373, 4957-4980)."""

from __future__ import annotations

import math
import random

import pytest

from recorder.insights.detector import (
    CALL_RATE,
    ERROR_RATE,
    MAX_ERROR_CODES,
    OTHER_ERROR_CODE,
    Detector,
    InsightEvent,
    Rule,
    SeriesKey,
    replay,
)
from tests.unit.insights import reference

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


class Topic:
    """The compacted state topic as a restarted stage reads it: the last record of
    each series (a ``None`` record forgets it)."""

    def __init__(self) -> None:
        self.records: dict[SeriesKey, dict[str, object]] = {}

    def write(self, det: Detector) -> None:
        for key, doc in det.take_changes().items():
            if doc is None:
                self.records.pop(key, None)
            else:
                self.records[key] = _roundtrip(doc)

    def restore(self, closed_through: int | None) -> Detector:
        return Detector.restore(RULE, closed_through, self.records.items())


def _feed_saved(
    det: Detector, topic: Topic, key: SeriesKey, series: list[int], first: int
) -> list[InsightEvent]:
    out = []
    for i, n in enumerate(series):
        if n:
            det.observe(key, first + i, n)
        out += det.close_through(first + i)
        topic.write(det)
    return out


@pytest.mark.parametrize("cut", [41, 42, 44])
def test_restart_mid_insight_gives_no_second_start_and_one_end(cut: int) -> None:
    """A detector restored from its series records while the insight is open
    continues it: no new Start, exactly one End, with the statistics of the
    uninterrupted run."""
    series = [20] * 40 + [100] * 5 + [20] * 10
    whole = replay(RULE, {DELETE_BUCKET: series}, START)
    first, topic = Detector(RULE), Topic()
    before = _feed_saved(first, topic, DELETE_BUCKET, series[:cut], START)
    assert [e.state for e in before] == ["Start"]
    restored = topic.restore(first.closed_through)
    assert restored.replayed_events() == (before if cut == 41 else [])
    after = _feed(restored, DELETE_BUCKET, series[cut:], START + cut)
    assert [e.state for e in after] == ["End"]
    assert before + after == whole


def test_a_decision_made_again_from_earlier_records_has_the_same_ids() -> None:
    """Crash after the Start went out but before its records were written: the replay
    from the previous records decides the same Start with the same eventID and
    sharedEventID, which the writer's eventID de-duplication drops."""
    series = [20] * 40 + [100] * 5 + [20] * 10
    det, topic = Detector(RULE), Topic()
    _feed_saved(det, topic, DELETE_BUCKET, series[:40], START)
    saved = Topic()
    saved.records = dict(topic.records)
    first_try = _feed(det, DELETE_BUCKET, series[40:], START + 40)
    second_try = _feed(saved.restore(START + 39), DELETE_BUCKET, series[40:], START + 40)
    assert first_try == second_try
    assert [e.state for e in first_try] == ["Start", "End"]


def test_a_close_cut_short_is_finished_without_a_second_event() -> None:
    """Crash while a close's records were being written: some series hold the new
    bucket, the stage's own record does not. Closing that bucket again keeps what
    they hold (and sends their events again, same IDs) and decides the rest."""
    other = SeriesKey("123456789012", "us-east-1", "sns.amazonaws.com", "CreateTopic")
    columns = {DELETE_BUCKET: [20] * 40 + [100] * 5 + [20] * 5, other: [20] * 50}
    whole = replay(RULE, columns, START)
    det, topic = Detector(RULE), Topic()
    for i in range(40):
        for key, values in columns.items():
            det.observe(key, START + i, values[i])
        det.close_through(START + i)
        topic.write(det)
    for key, values in columns.items():
        det.observe(key, START + 40, values[40])
    decided = det.close_through(START + 40)
    assert [e.state for e in decided] == ["Start"]
    changes = det.take_changes()
    topic.records[DELETE_BUCKET] = _roundtrip(changes[DELETE_BUCKET])  # other's is lost
    restored = topic.restore(START + 39)
    out = []
    for i in range(40, 50):
        for key, values in columns.items():
            restored.observe(key, START + i, values[i])
        out += restored.close_through(START + i)
    assert out == whole


def test_late_calls_are_refused_also_after_a_restart() -> None:
    det, topic = Detector(RULE), Topic()
    assert det.observe(DELETE_BUCKET, START, 3)
    det.close_through(START)
    topic.write(det)
    assert not det.observe(DELETE_BUCKET, START, 1)  # closed: late
    assert det.observe(DELETE_BUCKET, START + 2, 7)
    restored = topic.restore(START)
    assert not restored.observe(DELETE_BUCKET, START, 1)
    assert restored.observe(DELETE_BUCKET, START + 1, 1)


def test_a_long_quiet_gap_closes_in_one_step() -> None:
    """Ten million silent buckets after a drop to none: the open insight is one
    bucket longer per bucket, and no series is visited once per bucket."""
    det = Detector(RULE)
    _feed(det, INGRESS, [20] * 40 + [0], START)
    assert det.open_insights == 1
    assert det.close_through(START + 10_000_040) == []
    assert det.series[INGRESS].open is not None
    assert det.series[INGRESS].open.buckets == 10_000_001  # with its Start bucket
    events = _feed(det, INGRESS, [20], START + 10_000_041)
    assert [(e.state, e.duration) for e in events] == [("End", 10_000_001)]


def test_matches_the_first_detector_on_random_traffic() -> None:
    """The lazy per-series detector decides what the eager one (every series decayed
    at every bucket) decides: the same events, on several APIs with bursts, drops and
    silences, and error codes."""
    rng = random.Random(27)
    for _ in range(5):
        columns: dict[SeriesKey, list[int]] = {}
        for j in range(6):
            key = SeriesKey("123456789012", "us-east-1", "ec2.amazonaws.com", f"Api{j}")
            if j % 3 == 2:
                key = key._replace(insight_type=ERROR_RATE, error_code=f"Code{j}")
            level = rng.choice([0.5, 3, 20, 60])
            values = [_poisson(rng, level) for _ in range(120)]
            values[0] = max(values[0], 1)  # every series from the first bucket, as the
            for _ in range(rng.randint(0, 3)):  # first detector learns from its start
                at, length = rng.randint(40, 110), rng.randint(1, 8)
                factor = rng.choice([0, 0, 5])
                for i in range(at, min(120, at + length)):
                    values[i] = _poisson(rng, level * factor) if factor else 0
            columns[key] = values
        expected = reference.replay(RULE, columns, START)
        got = replay(RULE, columns, START)
        expected.sort(key=lambda e: (e.bucket, e.key))
        assert [_decision(e) for e in got] == [_decision(e) for e in expected]
        for g, e in zip(got, expected, strict=True):  # sums decayed in one step or many
            assert (g.baseline, g.insight) == pytest.approx((e.baseline, e.insight), rel=1e-9)
            assert g.duration == e.duration
        assert expected  # the traffic did leave the range


def _decision(e: InsightEvent) -> tuple[object, ...]:
    return (e.key, e.state, e.bucket, e.event_time, e.event_id, e.shared_event_id)


def test_error_codes_beyond_the_bound_count_as_other_errors() -> None:
    det = Detector(RULE)
    base = DELETE_BUCKET._replace(insight_type=ERROR_RATE)
    for i in range(MAX_ERROR_CODES + 5):
        det.observe(base._replace(error_code=f"Code{i}"), START)
    det.observe(base._replace(error_code="<script>"), START)
    det.close_through(START)
    codes = sorted(k.error_code for k in det.series)
    assert len(codes) == MAX_ERROR_CODES + 1
    assert OTHER_ERROR_CODE in codes
    other = det.series[base._replace(error_code=OTHER_ERROR_CODE)]
    assert other.s == 6  # five codes past the bound and one no service would send


def test_an_account_turned_off_is_forgotten() -> None:
    det = Detector(RULE)
    det.observe(DELETE_BUCKET, START)
    det.observe(DELETE_BUCKET._replace(account_id="210987654321"), START)
    det.close_through(START)
    det.take_changes()
    det.observe(DELETE_BUCKET, START + 1)
    assert det.drop_account("123456789012") == 1
    assert det.accounts() == {"210987654321"}
    assert det.take_changes() == {DELETE_BUCKET: None}
    assert not any(det.pending.values())


def test_a_quiet_series_is_forgotten_in_time() -> None:
    det = Detector(Rule(window=3))
    det.observe(DELETE_BUCKET, START)
    det.close_through(START)
    det.close_through(START + 200)  # decayed far below any call
    assert DELETE_BUCKET not in det.series
    assert det.take_changes()[DELETE_BUCKET] is None


def _roundtrip(doc: dict[str, object]) -> dict[str, object]:
    import orjson

    return orjson.loads(orjson.dumps(doc))  # type: ignore[no-any-return]
