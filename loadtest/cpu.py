"""CPU and memory of named processes and of the whole machine, read from /proc.

The load test shows where the machine's CPU went: each recorder process, each
traffic generator, the checker, the broker and moto, as % of one core and as a
share of the machine (all cores), next to the machine's total busy time, which
also counts whatever else runs on the host. Reading is cheap (a few small files a
second); the arithmetic is pure so it is tested without processes.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


def cores() -> int:
    """The cores this process may run on (what the machine offers the run)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) one process has used; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICK
    except (OSError, IndexError, ValueError):
        return 0.0


def proc_rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    except (OSError, IndexError, ValueError):
        pass
    return 0.0


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (a broker's wrapper and its real binary)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, all cores."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    total = sum(fields[:8])  # user nice system idle iowait irq softirq steal
    idle = fields[3] + fields[4]
    return (total - idle) / _TICK, total / _TICK


@dataclass(frozen=True)
class CpuReading:
    """CPU seconds per named process group, and the machine's, at one moment."""

    at: float
    groups: Mapping[str, float]
    machine_busy: float
    machine_total: float


class CpuMeter:
    """Reads the groups' CPU; a process that has exited keeps the seconds it used."""

    def __init__(self, groups: Mapping[str, Iterable[int]]) -> None:
        self.groups = {name: list(pids) for name, pids in groups.items()}
        self._last: dict[int, float] = {}

    def _cpu(self, pid: int) -> float:
        value = max(proc_cpu(pid), self._last.get(pid, 0.0))
        self._last[pid] = value
        return value

    def read(self, at: float) -> CpuReading:
        busy, total = machine_busy()
        return CpuReading(
            at,
            {name: sum(self._cpu(p) for p in pids) for name, pids in self.groups.items()},
            busy,
            total,
        )

    def rss_mib(self, names: Iterable[str]) -> float:
        return sum(proc_rss_mib(p) for n in names for p in self.groups.get(n, []))


def percent_of_core(before: CpuReading, after: CpuReading) -> dict[str, float]:
    """Each group's CPU between two readings, as % of one core (200 = two cores busy)."""
    dt = after.at - before.at
    if dt <= 0:
        return dict.fromkeys(after.groups, 0.0)
    return {
        name: max(0.0, after.groups[name] - before.groups.get(name, after.groups[name])) / dt * 100
        for name in after.groups
    }


def machine_percent(before: CpuReading, after: CpuReading) -> float:
    """How busy the whole machine was between two readings, % of all its cores."""
    total = after.machine_total - before.machine_total
    if total <= 0:
        return 0.0
    return (after.machine_busy - before.machine_busy) / total * 100


def cpu_seconds(before: CpuReading, after: CpuReading) -> dict[str, float]:
    return {
        name: max(0.0, after.groups[name] - before.groups.get(name, after.groups[name]))
        for name in after.groups
    }
