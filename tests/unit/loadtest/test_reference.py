"""The host-speed reference: the router's pure path, timed in a process of its own."""

from __future__ import annotations

import time

from loadtest.reference import Reference, workload


def test_the_workload_routes_the_traffic_mix_to_the_trails_of_the_load_test() -> None:
    run = workload(200)
    made = run()
    assert 0 < made < 200 * 20  # some events match no trail, none matches all twenty
    assert run() == made  # the same fixed events every pass


def test_passes_are_timed_with_the_wall_time_they_ended_at() -> None:
    begin = time.time()
    with Reference(events=50, every=0.05) as ref:
        ref.collect(at_least=3, timeout=120)  # start-up takes 1-2 s, more on a busy machine
    end = time.time()
    assert len(ref.samples) >= 3
    assert all(begin < t <= end and us > 0 for t, us in ref.samples)
    middle = ref.median(begin, end)
    assert middle is not None and min(us for _, us in ref.samples) <= middle
    assert ref.median(end, end + 60) is None  # no pass ended after the block
