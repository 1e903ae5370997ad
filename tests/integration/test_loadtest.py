"""The load test's harness end to end: traffic from generator processes, a checker
process sampling every second and reading every file back, a real stack.

Short and slow (a few hundred events/s) so it runs in the suite; it asserts what
the harness promises - completeness checked exactly, a sample every interval,
CPU for every process - never a throughput or latency figure.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from loadtest import harness

pytestmark = [pytest.mark.integration]


def test_a_short_run_delivers_each_event_once_and_samples_without_gaps(tmp_path: Path) -> None:
    out = harness.run(
        harness.Options(rate=200, duration=6, generators=2, cut_interval=2, drain_timeout=120),
        tmp_path,
    )
    r = out.result
    assert r["sent"] >= 1000
    assert r["expected"] > 0 and r["delivered"] == r["expected"]
    assert (r["missing"], r["duplicated"], r["unexpected"]) == (0, 0, 0)
    # one sample per interval from start to drained, and no hole between them
    assert r["gaps"] == []
    assert len(r["samples"]) >= 6
    assert r["samples"][-1]["delivered_total"] == r["delivered"]
    # every process's CPU is accounted for, the harness's apart from the recorder's
    used = r["cpu_seconds"]
    assert set(used) == {
        "router-0",
        "writer-0",
        "generator-0",
        "generator-1",
        "checker",
        "broker",
        "moto",
    }
    assert all(used[p] > 0 for p in ("router-0", "writer-0", "generator-0", "generator-1"))
    assert {"cpu.router-0", "machine_busy", "recorder_share"} <= set(r["samples"][-1])
    # each delivery's latency is known from its eventID
    assert len(out.latencies) == r["delivered"]
