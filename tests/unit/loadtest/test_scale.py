"""The scale-out table: cost per 1,000 events per process count, relative to 1 process."""

from __future__ import annotations

from array import array

from loadtest.harness import Outcome
from loadtest.scale import cost_row, markdown, with_ratio


def outcome(sent: int, router: list[float], writer: list[float]) -> Outcome:
    used = {f"router-{i}": v for i, v in enumerate(router)}
    used |= {f"writer-{i}": v for i, v in enumerate(writer)}
    used |= {"generator-0": 50.0, "checker": 9.0, "broker": 20.0, "moto": 7.0}
    result = {
        "sent": sent,
        "cpu_seconds": used,
        "idle_percent": {"router-0": 0.5, "writer-0": 0.25, "checker": 3.0},
        "drained_seconds": 40.0,
        "cpu_span": 41.0,
        "missing": 0,
        "duplicated": 0,
        "membership": "tansu / dynamic",
    }
    return Outcome(result, array("d"), {}, "1.00 1.00 1.00", "1.10 1.00 1.00")


def test_cost_counts_only_router_and_writer_processes_per_1000_events() -> None:
    row = cost_row(1, outcome(40_000, [6.0], [4.0]))
    assert row["router CPU-s / 1k events"] == 6.0 / 40
    assert row["writer CPU-s / 1k events"] == 4.0 / 40
    assert row["CPU-s / 1k events"] == 10.0 / 40
    assert row["events/s delivered"] == 1000.0
    assert row["idle CPU, all processes (% of a core)"] == 0.75


def test_each_count_is_compared_with_one_process() -> None:
    rows = with_ratio(
        [
            cost_row(1, outcome(40_000, [6.0], [4.0])),
            cost_row(4, outcome(40_000, [1.5, 1.5, 1.5, 1.6], [1.0, 1.0, 1.1, 1.0])),
        ]
    )
    assert rows[0]["vs 1 process"] == 1.0
    assert round(rows[1]["vs 1 process"], 3) == 1.02
    table = markdown(rows)
    assert table.splitlines()[0].startswith("| broker / membership | processes |")
    assert "| tansu / dynamic | 4 | 40000 |" in table
