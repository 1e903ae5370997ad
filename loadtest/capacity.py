"""``--find-capacity``: when a step of offered load counts as held, and what comes next.

The load test raises the offered rate step by step. A step is *held* when the
deliveries of the events emitted during it (after a short warm-up) reach S3 with
p99 latency within the writer's cut interval + 10 s, and the consumer lag does not
keep growing through the step. Deliveries not in S3 when the step is judged count
as at least as late as they already are, so a pipeline that falls behind cannot
look fast by leaving its slowest records out. Pure: numbers in, verdicts out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from loadtest.report import percentile


@dataclass(frozen=True)
class Plan:
    start_rate: float = 500.0
    factor: float = 1.5
    max_rate: float = 20_000.0
    step_seconds: float = 25.0
    warmup_seconds: float = 5.0
    cut_interval: float = 5.0
    # lag "keeps growing" when its trend over the step exceeds this share of the rate
    lag_growth_share: float = 0.05
    # below this share of the offered rate, the generators (not the recorder) failed
    offered_share: float = 0.9

    @property
    def latency_limit(self) -> float:
        return self.cut_interval + 10.0

    def rates(self) -> list[float]:
        out, r = [], self.start_rate
        while r <= self.max_rate:
            out.append(round(r))
            r *= self.factor
        return out


@dataclass(frozen=True)
class StepResult:
    rate: float  # offered, events/s
    sent_rate: float  # what the generators achieved in the window
    p50: float
    p99: float
    lag_slope: float  # records/s, least-squares trend of router + writer lag
    undelivered: int  # expected deliveries of the window not in S3 when judged
    held: bool
    reason: str


def censored_latencies(delivered: Sequence[float], expected: int) -> list[float]:
    """A window's latencies with each delivery not yet in S3 counted as infinitely late
    (judged only once those are surely past the limit: :func:`step_ready`)."""
    return list(delivered) + [math.inf] * max(0, expected - len(delivered))


def slope(ts: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares trend of ``ys`` over ``ts`` (units of y per unit of t)."""
    n = len(ts)
    if n < 2:
        return 0.0
    mt, my = sum(ts) / n, sum(ys) / n
    var = sum((t - mt) ** 2 for t in ts)
    if var == 0:
        return 0.0
    return sum((t - mt) * (y - my) for t, y in zip(ts, ys, strict=True)) / var


def lag_growing(ts: Sequence[float], lags: Sequence[float], rate: float, share: float) -> bool:
    """Lag keeps growing: its trend exceeds ``share`` of the offered rate, and it ends
    above everything it was in the step's first half (so a sawtooth or a spike that
    drains again does not count)."""
    if len(ts) < 4:
        return False
    first_half = lags[: len(lags) // 2]
    return slope(ts, lags) > share * rate and lags[-1] > max(first_half)


def judge(
    plan: Plan,
    rate: float,
    sent_rate: float,
    latencies: Sequence[float],
    lag_ts: Sequence[float],
    lags: Sequence[float],
    undelivered: int,
) -> StepResult:
    """The verdict on one step. ``latencies`` already holds the censored missing ones."""
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    growth = slope(lag_ts, lags)
    if sent_rate < plan.offered_share * rate:
        held, reason = False, f"generators offered only {sent_rate:,.0f} of {rate:,.0f} events/s"
    elif not latencies:
        held, reason = False, "nothing was delivered"
    elif p99 > plan.latency_limit:
        held, reason = False, f"p99 {p99:,.1f} s > cut interval + 10 s ({plan.latency_limit:g} s)"
    elif lag_growing(lag_ts, lags, rate, plan.lag_growth_share):
        held, reason = False, f"lag keeps growing ({growth:,.0f} records/s)"
    else:
        held, reason = True, "held"
    return StepResult(rate, sent_rate, p50, p99, growth, undelivered, held, reason)


def highest_held(steps: Sequence[StepResult]) -> StepResult | None:
    """The last held step before the first one that was not held."""
    best = None
    for s in steps:
        if not s.held:
            break
        best = s
    return best


def step_ready(
    window_end: float,
    now: float,
    expected: int,
    delivered: int,
    plan: Plan,
    read_all: bool = True,
    grace: float = 30.0,
) -> bool:
    """A step can be judged once all its deliveries are in, or once it is certain
    that the missing ones are later than the limit: past the limit, and every file
    announced so far read back (``read_all``; a slow read-back must not pass for a
    slow pipeline), or ``grace`` seconds past the limit whatever the read-back."""
    if now < window_end:
        return False
    if delivered >= expected:
        return True
    deadline = window_end + plan.latency_limit + 1.0
    return (now >= deadline and read_all) or now >= deadline + grace
