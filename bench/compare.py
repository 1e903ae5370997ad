"""A stage's cost beside its floor, from rounds run alternately in one process.

``bench/router.py`` and ``bench/delivery.py`` both run a floor (the broker work alone)
and the stage in turns, so each round's pair shares the host's speed of those seconds.
On this virtual machine that speed drifts by a third within minutes, so the report
gives the ratio two ways: the best of each (what each reaches when the host is
kindest) and the median of the rounds' own ratios (each stage round over the floor
round just before it: the host's drift divides out of a pair). When they differ
much, the host moved during the run, and the paired median is the one to quote.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rate:
    wall: float  # events per second of elapsed time
    cpu: float  # events per CPU-second of this process


def report(
    floors: Sequence[Rate],
    rates: Sequence[Rate],
    *,
    floor_label: str,
    label: str,
    name: str,
    target: str,
    width: int = 52,
) -> None:
    """Print the table, the elapsed-time ratio and ``<name>/floor = X.XX`` (the best of
    each, per CPU-second: the line ``bench/acceptance.sh`` reads) with the paired median
    beside it."""
    floor_wall, wall = max(f.wall for f in floors), max(r.wall for r in rates)
    floor_cpu, cpu = max(f.cpu for f in floors), max(r.cpu for r in rates)
    pairs = [r.cpu / f.cpu for f, r in zip(floors, rates, strict=True)]
    paired = statistics.median(pairs)
    print(f"{'':<{width}}{'events/s':>12}{'per cpu-s':>12}{'µs/event':>10}")
    for text, w, c in ((floor_label, floor_wall, floor_cpu), (label, wall, cpu)):
        print(f"{text:<{width}}{w:>12,.0f}{c:>12,.0f}{1e6 / c:>10.1f}")
    ratios = ", ".join(f"{x:.2f}" for x in pairs)
    print(f"per round {name}/floor per CPU-second: {ratios}; median {paired:.2f}")
    print(f"elapsed-time ratio {wall / floor_wall:.2f} (load average {os.getloadavg()[0]:.1f})")
    # The ratio of CPU cost: what the core gives each, whatever the neighbours take.
    print(f"{name}/floor = {cpu / floor_cpu:.2f}   (target {target}; paired median {paired:.2f})")
