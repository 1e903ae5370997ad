"""CPU per process and of the machine: the arithmetic, and a real reading of this process."""

from __future__ import annotations

import os

from loadtest.cpu import (
    CpuMeter,
    CpuReading,
    cpu_seconds,
    descendants,
    machine_percent,
    percent_of_core,
)


def reading(at: float, groups: dict[str, float], busy: float, total: float) -> CpuReading:
    return CpuReading(at, groups, busy, total)


def test_percent_of_one_core_per_group() -> None:
    a = reading(10.0, {"router-0": 5.0, "writer-0": 2.0}, 100.0, 400.0)
    b = reading(12.0, {"router-0": 6.5, "writer-0": 2.2}, 103.0, 404.0)
    pct = percent_of_core(a, b)
    assert round(pct["router-0"], 6) == 75.0  # 1.5 CPU-s in 2 s
    assert round(pct["writer-0"], 6) == 10.0
    assert cpu_seconds(a, b) == {"router-0": 1.5, "writer-0": b.groups["writer-0"] - 2.0}


def test_machine_share_counts_all_cores() -> None:
    # 2 cores over 2 s = 4 CPU-s available; 3 were busy
    a = reading(0.0, {}, 100.0, 400.0)
    b = reading(2.0, {}, 103.0, 404.0)
    assert machine_percent(a, b) == 75.0


def test_a_new_group_counts_from_its_first_reading() -> None:
    a = reading(0.0, {}, 0.0, 1.0)
    b = reading(1.0, {"checker": 3.0}, 0.0, 2.0)
    assert percent_of_core(a, b) == {"checker": 0.0}


def test_meter_reads_this_process_and_keeps_an_exited_ones_seconds() -> None:
    me = os.getpid()
    assert me in descendants(me)
    meter = CpuMeter({"me": [me], "gone": [2**22 + 12345]})
    first = meter.read(0.0)
    sum(i * i for i in range(200_000))  # spend some CPU
    second = meter.read(1.0)
    assert second.groups["me"] >= first.groups["me"] > 0
    assert second.groups["gone"] == 0.0
    meter._last[2**22 + 12345] = 4.0  # it used 4 s before it exited
    assert meter.read(2.0).groups["gone"] == 4.0
