"""The host's speed during a run: a fixed piece of the router's work, timed throughout.

On this machine (a virtual machine with 2 cores) one fixed piece of pure-Python work
took from 10 to 16 ms from one 10-second window to the next with nothing else
running, so one scale-out run can cost 20 % more per event than the next for no
reason in the recorder. :class:`Reference` runs, in a process of its own and at a
small duty cycle, the router's own pure path (decode, validate, route, render) over
a fixed set of events of the load test's traffic mix, and records the CPU time each
pass takes per event with the wall time it ended at. A run's cost per event divided
by the reference's cost in the same seconds takes out what slowed both alike: the
host, and the packing of many processes onto few cores
(:func:`loadtest.scale.normalise`).
"""

from __future__ import annotations

import multiprocessing
import queue
import statistics
import time
from collections.abc import Callable
from typing import Any

from loadtest.traffic import TrafficMix, account_ids, trail_set

#: Events per pass (about 10 ms of CPU), and seconds between passes (a 2 % duty cycle,
#: so the reference takes little from what it measures).
EVENTS, EVERY = 400, 0.5


def workload(events: int = EVENTS) -> Callable[[], int]:
    """The router's pure path over ``events`` fixed events; returns deliveries made."""
    from recorder.events import encode
    from recorder.events.codec import decode_typed
    from recorder.events.render import render_record
    from recorder.events.validate import validate_record
    from recorder.routing import RoutingEngine
    from recorder.trails import Trail

    accounts = account_ids(10)
    engine = RoutingEngine.compile([Trail.from_api(t) for t in trail_set(accounts, 20)], {})
    mix = TrafficMix(accounts, seed=11)
    bodies = [encode(mix.event(0.0)) for _ in range(events)]

    def run() -> int:
        made = 0
        for body in bodies:
            record, typed = decode_typed(body)
            validate_record(record, typed=typed)
            made += len(engine.route(record))
            render_record(record)
        return made

    return run


def _loop(stop: Any, out: Any, events: int, every: float) -> None:
    run = workload(events)
    run()  # warm: the first pass compiles the generated reader
    while not stop.is_set():
        begin = time.process_time()
        run()
        used = time.process_time() - begin
        out.put((time.time(), used / events * 1e6))
        stop.wait(every)


class Reference:
    """``with Reference() as ref:`` times the workload while the block runs."""

    def __init__(self, events: int = EVENTS, every: float = EVERY) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._stop = ctx.Event()
        self._out: Any = ctx.Queue()
        self._proc = ctx.Process(
            target=_loop, args=(self._stop, self._out, events, every), daemon=True
        )
        self.samples: list[tuple[float, float]] = []  # (wall time, µs per event)

    def __enter__(self) -> Reference:
        self._proc.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._drain(until=time.monotonic() + 10)
        self._proc.join(10)
        if self._proc.is_alive():
            self._proc.kill()

    def collect(self, at_least: int, timeout: float) -> None:
        """Take the passes timed so far, waiting up to ``timeout`` s for ``at_least``.

        The process needs 1-2 s to start and import the recorder on a quiet machine and
        several times that on a loaded one, so a caller waits for passes, not a time.
        """
        until = time.monotonic() + timeout
        while len(self.samples) < at_least and time.monotonic() < until:
            try:
                self.samples.append(self._out.get(timeout=0.2))
            except queue.Empty:
                continue

    def _drain(self, until: float) -> None:
        while self._proc.is_alive() or not self._out.empty():
            try:
                self.samples.append(self._out.get(timeout=0.2))
            except queue.Empty:  # look again until the process is gone
                if time.monotonic() > until:
                    return

    def median(self, start: float, end: float) -> float | None:
        """Median µs per event of the passes that ended in wall time (start, end]."""
        inside = [us for t, us in self.samples if start < t <= end]
        return statistics.median(inside) if inside else None
