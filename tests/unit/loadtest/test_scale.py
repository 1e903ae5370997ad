"""The scale-out table: steady-state cost per 1,000 events per process count."""

from __future__ import annotations

from array import array

from loadtest.harness import Outcome
from loadtest.scale import (
    AT_REFERENCE,
    REFERENCE,
    cost_row,
    markdown,
    median_rows,
    normalise,
    window_cost,
    with_ratio,
)


def samples(router: list[float], writer: list[float], seconds: int = 40) -> list[dict[str, float]]:
    """One sample a second at 1,000 events/s; CPU in % of a core per process."""
    out = []
    for t in range(1, seconds + 1):
        s = {"t": float(t), "dt": 1.0, "sent_total": 1000.0 * t}
        s |= {f"cpu.router-{i}": pct for i, pct in enumerate(router)}
        s |= {f"cpu.writer-{i}": pct for i, pct in enumerate(writer)}
        s |= {"cpu.generator-0": 80.0, "cpu.broker": 30.0, "machine_busy": 50.0 + t}
        out.append(s)
    return out


def outcome(router: list[float], writer: list[float]) -> Outcome:
    result = {
        "samples": samples(router, writer),
        "idle_percent": {"router-0": 0.5, "writer-0": 0.25, "checker": 3.0},
        "missing": 0,
        "duplicated": 0,
        "membership": "tansu / dynamic",
    }
    return Outcome(result, array("d"), {}, "1.00 1.00 1.00", "1.10 1.00 1.00")


def test_window_cost_counts_only_the_steady_state_samples() -> None:
    rows = samples([50.0], [30.0])
    rows[3]["cpu.writer-0"] = 900.0  # a start-up burst inside the warm-up
    used, events = window_cost(rows, 10.0, 30.0)
    assert events == 20_000
    assert round(used["router-0"], 9) == 10.0  # 20 s at half a core
    assert round(used["writer-0"], 9) == 6.0


def test_cost_counts_only_router_and_writer_processes_per_1000_events() -> None:
    row = cost_row(1, outcome([50.0], [30.0]), warmup=10, duration=20)
    assert round(row["router CPU-s / 1k events"], 9) == 0.5
    assert round(row["writer CPU-s / 1k events"], 9) == 0.3
    assert round(row["CPU-s / 1k events"], 9) == 0.8
    assert row["events/s"] == 1000.0 and row["events measured"] == 20_000
    assert row["idle CPU, all processes (% of a core)"] == 0.75
    assert row["machine busy %"] == 50.0 + 20.5  # mean over seconds 11..30


def test_each_count_is_compared_with_one_process() -> None:
    rows = with_ratio(
        [
            cost_row(1, outcome([50.0], [30.0]), 10, 20),
            cost_row(4, outcome([13.0, 13.0, 13.0, 13.0], [8.0, 8.0, 8.0, 8.0]), 10, 20),
        ]
    )
    assert rows[0]["vs 1 process"] == 1.0
    assert round(rows[1]["vs 1 process"], 3) == 1.05
    table = markdown(rows)
    assert table.splitlines()[0].startswith("| broker / membership | processes |")
    assert "| tansu / dynamic | 4 | 20000 |" in table


def test_repeated_runs_report_the_median_run_with_every_run_beside_it() -> None:
    one = [cost_row(1, outcome([r], [30.0]), 10, 20) for r in (50.0, 70.0, 40.0)]
    four = [cost_row(4, outcome([w] * 4, [8.0] * 4), 10, 20) for w in (12.0, 13.0, 30.0)]
    four[2]["missing / duplicated"] = "0 / 2"
    rows = with_ratio(median_rows({4: four, 1: one}))
    assert [r["processes"] for r in rows] == [1, 4]
    assert round(rows[0]["CPU-s / 1k events"], 9) == 0.8  # the 50 % run, of 40, 50, 70
    assert rows[0]["runs (CPU-s / 1k events)"] == "0.800, 1.000, 0.700"
    assert round(rows[1]["CPU-s / 1k events"], 9) == 0.84  # 4 x 13 % + 4 x 8 %
    assert round(rows[1]["vs 1 process"], 3) == 1.05
    assert rows[1]["missing / duplicated"] == "0 / 2"  # a loss in any run shows


def test_each_run_is_taken_to_the_common_reference_speed_before_it_is_compared() -> None:
    # 1 process: 0.8 CPU-s per 1k events, measured once on a slow host (reference 30 µs)
    # and twice on a fast one (20 µs); 4 processes: 0.84, on hosts of 20, 25 and 30 µs.
    one = [cost_row(1, outcome([50.0], [30.0]), 10, 20) | {REFERENCE: us} for us in (30, 20, 20)]
    one[0] = one[0] | {"CPU-s / 1k events": 1.2}  # the slow host's run cost more
    four = [
        cost_row(4, outcome([13.0] * 4, [8.0] * 4), 10, 20) | {REFERENCE: us} for us in (20, 25, 30)
    ]
    runs = normalise({1: one, 4: four})
    # the common speed is the median reference of all six runs: 22.5 µs
    assert round(runs[1][0][AT_REFERENCE], 9) == round(1.2 * 22.5 / 30, 9) == 0.9
    assert round(runs[1][1][AT_REFERENCE], 9) == 0.9
    assert round(runs[4][2][AT_REFERENCE], 9) == round(0.84 * 22.5 / 30, 9)
    rows = with_ratio(median_rows(runs))
    assert round(rows[0][AT_REFERENCE], 9) == 0.9
    assert round(rows[1][AT_REFERENCE], 9) == round(0.84 * 22.5 / 25, 9)  # the middle one
    assert rows[0]["runs (CPU-s / 1k events)"] == "0.900, 0.900, 0.900"
    assert round(rows[1]["vs 1 process"], 4) == round(0.84 / 25 / (0.9 / 22.5), 4) == 0.84
    # beside it, the ratio of the same two runs as measured, host and all
    assert round(rows[1]["vs 1 process, as measured"], 3) == round(0.84 / 0.8, 3)


def test_runs_without_a_reference_are_compared_as_measured() -> None:
    runs = {1: [cost_row(1, outcome([50.0], [30.0]), 10, 20)]}
    assert normalise(runs) == runs
    rows = with_ratio(median_rows(runs))
    assert AT_REFERENCE not in rows[0] and "vs 1 process, as measured" not in rows[0]


def test_one_run_without_a_reference_leaves_every_run_as_measured() -> None:
    """A reference process that timed nothing in a run's window must not leave that
    run ranked as measured among runs taken to the reference speed."""
    one = [cost_row(1, outcome([50.0], [30.0]), 10, 20) | {REFERENCE: us} for us in (20, None)]
    four = [cost_row(4, outcome([13.0] * 4, [8.0] * 4), 10, 20) | {REFERENCE: 25}]
    runs = {1: one, 4: four}
    assert normalise(runs) == runs
    rows = with_ratio(median_rows(normalise(runs)))
    assert all(AT_REFERENCE not in r for r in rows)
    assert round(rows[1]["vs 1 process"], 3) == 1.05  # 0.84 against 0.8, as measured
