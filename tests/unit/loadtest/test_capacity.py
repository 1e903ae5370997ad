"""--find-capacity: when a step of offered load is held, and which rate is reported."""

from __future__ import annotations

import math

from loadtest.capacity import (
    Plan,
    StepResult,
    censored_latencies,
    highest_held,
    judge,
    lag_growing,
    slope,
    step_ready,
)
from loadtest.checker import Latencies, parse_metrics

PLAN = Plan(start_rate=500, factor=1.5, max_rate=3000, cut_interval=5.0)
TS = [float(t) for t in range(20)]


def test_rates_grow_by_the_factor_up_to_the_maximum() -> None:
    assert PLAN.rates() == [500, 750, 1125, 1688, 2531]
    assert PLAN.latency_limit == 15.0


def test_slope_is_the_least_squares_trend() -> None:
    assert slope(TS, [3.0 * t + 7 for t in TS]) == 3.0
    assert slope(TS, [5.0] * 20) == 0.0
    assert slope([1.0], [9.0]) == 0.0


def test_lag_growing_steadily_is_growing() -> None:
    # offered 1000/s, the pipeline keeps 900/s: lag grows 100 records/s
    assert lag_growing(TS, [100.0 * t for t in TS], rate=1000, share=0.05)


def test_a_sawtooth_or_a_drained_spike_is_not_growth() -> None:
    sawtooth = [float((t % 5) * 400) for t in range(20)]
    assert not lag_growing(TS, sawtooth, rate=1000, share=0.05)
    spike = [0.0] * 8 + [5000.0, 3000.0, 1000.0] + [0.0] * 9
    assert not lag_growing(TS, spike, rate=1000, share=0.05)
    # a slow creep well under 5 % of the rate is noise, not falling behind
    assert not lag_growing(TS, [10.0 * t for t in TS], rate=1000, share=0.05)


def test_missing_deliveries_count_as_infinitely_late() -> None:
    assert censored_latencies([1.0, 2.0], expected=4) == [1.0, 2.0, math.inf, math.inf]
    assert censored_latencies([1.0, 2.0, 3.0], expected=2) == [1.0, 2.0, 3.0]


def test_a_step_is_judged_when_complete_or_surely_late() -> None:
    assert not step_ready(30.0, 29.0, 100, 100, PLAN)  # window still open
    assert step_ready(30.0, 31.0, 100, 100, PLAN)  # everything is in
    assert not step_ready(30.0, 40.0, 100, 90, PLAN)  # missing ones may still be on time
    assert step_ready(30.0, 46.5, 100, 90, PLAN)  # missing ones are past the limit
    # ... unless announced files are still being read back: wait for them
    assert not step_ready(30.0, 46.5, 100, 90, PLAN, read_all=False)
    assert step_ready(30.0, 76.5, 100, 90, PLAN, read_all=False)  # but not for ever


def test_judge_holds_a_step_within_the_limits() -> None:
    r = judge(PLAN, 1000, 995, [3.0] * 98 + [6.0, 7.0], TS, [50.0] * 20, 0)
    assert r.held and r.reason == "held"
    assert (r.p50, r.p99) == (3.0, 7.0)


def test_judge_fails_a_step_on_p99_over_cut_interval_plus_10() -> None:
    r = judge(PLAN, 1000, 1000, [3.0] * 98 + [16.0, 17.0], TS, [0.0] * 20, 0)
    assert not r.held and r.reason.startswith("p99 17.0 s > cut interval + 10 s (15 s)")


def test_judge_fails_a_step_when_too_many_deliveries_are_missing() -> None:
    lat = censored_latencies([3.0] * 95, expected=100)
    r = judge(PLAN, 1000, 1000, lat, TS, [0.0] * 20, 5)
    assert not r.held and r.p99 == math.inf and r.undelivered == 5


def test_judge_fails_a_step_whose_lag_keeps_growing() -> None:
    r = judge(PLAN, 1000, 1000, [3.0] * 100, TS, [200.0 * t for t in TS], 0)
    assert not r.held and r.reason.startswith("lag keeps growing")


def test_judge_does_not_blame_the_recorder_when_the_generators_fell_short() -> None:
    r = judge(PLAN, 1000, 700, [3.0] * 100, TS, [0.0] * 20, 0)
    assert not r.held and "generators offered only 700 of 1,000" in r.reason


def test_highest_held_is_the_last_held_before_the_first_failure() -> None:
    def step(rate: float, held: bool) -> StepResult:
        return StepResult(rate, rate, 1.0, 2.0, 0.0, 0, held, "")

    steps = [step(500, True), step(750, True), step(1125, False), step(1688, True)]
    best = highest_held(steps)
    assert best is not None and best.rate == 750
    assert highest_held([step(500, False)]) is None
    assert highest_held([]) is None


def test_a_window_holds_the_deliveries_of_events_emitted_in_it() -> None:
    lat = Latencies(t0=1000.0)
    for emitted, latency in [(1004.99, 9.0), (1005.0, 1.0), (1009.5, 2.0), (1010.0, 3.0)]:
        lat.add(emitted, latency)
    assert sorted(lat.window(5.0, 10.0)) == [1.0, 2.0]
    assert lat.window(4.5, 5.0) == [9.0]
    assert list(lat.all) == [9.0, 1.0, 2.0, 3.0]


def test_metrics_page_gives_lag_per_stage_and_the_writer_gauges() -> None:
    page = "\n".join(
        [
            "# HELP recorder_consumer_lag_records Records behind the log end",
            'recorder_consumer_lag_records{partition="0",stage="router"} 12.0',
            'recorder_consumer_lag_records{partition="1",stage="router"} 3.0',
            'recorder_consumer_lag_records{partition="0",stage="writer"} 7.0',
            "recorder_writer_uncommitted_records 420.0",
            'recorder_writer_parked_events{trail="t"} 30.0',
            'recorder_writer_parked_events{trail="u"} 5.0',
            "recorder_writer_parked_events_total 99.0",
        ]
    )
    assert parse_metrics(page) == {
        "router_lag": 15.0,
        "writer_lag": 7.0,
        "writer_uncommitted": 420.0,
        "parked_events": 35.0,
    }
