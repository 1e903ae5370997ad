"""The digester's per-loop cost with many chains, side by side with the scan it replaced.

    python bench/digester.py [--chains 50000] [--partitions 12] [--loops 50]

Every pass of the digester's loop asks each owned partition which digest windows
are due and what offset it may commit. Measured in-process (no broker, no S3: the
cost in question is CPU on the event loop, between polls):

* heap   - the digester now: :meth:`PartitionWindows.due` pops only deadlines that
           have passed; :meth:`committable` looks at chains holding files only;
           each chain's partition is computed once.
* scan   - the loop before (commit d0b7b46): per partition, murmur2 of every
           chain's key to find the partition's chains, then a pass over all of
           them parsing each chain's last end time.

Both see the same N chains in steady state (each has a digest, none is due) and
one chain per partition that is due each loop. Printed: milliseconds per loop
for each, scan/heap, and the one-time costs of the heap (tracking all chains at
assignment, and a registry change, which looks at every chain once). The
consumer's session timeout (10 s by default) bounds what one loop may take.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from aiokafka.partitioner import DefaultPartitioner

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recorder.integrity.chain import ChainState
from recorder.integrity.closing import PartitionWindows
from recorder.integrity.digest import PreviousDigest
from recorder.integrity.service import _chain_key
from recorder.integrity.times import format_time, parse_time
from recorder.trails.destination import Destination

HOUR = dt.timedelta(hours=1)
GRACE = dt.timedelta(minutes=1)


def make_states(n: int, now: dt.datetime) -> dict[Destination, ChainState]:
    states = {}
    for i in range(n):
        account = f"{100000000000 + i // 5:012d}"
        chain = Destination(
            f"arn:aws:cloudtrail:us-east-1:{account}:trail/t{i % 5}", account, "us-east-1"
        )
        # ended a few minutes ago: the next window is due in ~an hour
        end = format_time(now - dt.timedelta(seconds=60 + i % 600))
        states[chain] = ChainState(chain, PreviousDigest("b", f"k{i}", "a" * 64, "ff", end))
    return states


def scan_loop(
    states: dict[Destination, ChainState], partitions: int, now: dt.datetime, partitioner: Any
) -> int:
    """The previous per-loop work, as it was: membership by murmur2, then a full pass."""
    n = partitions
    due = 0
    for p in range(partitions):
        here = [
            c
            for c, s in states.items()
            if s.previous is not None
            and int(partitioner(_chain_key(c), list(range(n)), list(range(n)))) == p
        ]
        for chain in here:
            previous = states[chain].previous
            assert previous is not None
            end = parse_time(previous.end_time) + HOUR
            if now >= end + GRACE:
                due += 1
    return due


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chains", type=int, default=50_000)
    ap.add_argument("--partitions", type=int, default=12)
    ap.add_argument("--loops", type=int, default=50)
    ap.add_argument("--scan-loops", type=int, default=1, help="the scan is slow: fewer loops")
    args = ap.parse_args()
    now = dt.datetime.now(dt.UTC)
    states = make_states(args.chains, now)
    partitioner = DefaultPartitioner()
    n = args.partitions

    # -- heap: the digester's own structures --------------------------------------
    t0 = time.perf_counter()
    partition_of = {
        c: int(partitioner(_chain_key(c), list(range(n)), list(range(n)))) for c in states
    }
    partition_s = time.perf_counter() - t0
    windows = [PartitionWindows(p, 0, caught_up_at=0, interval=HOUR, grace=GRACE) for p in range(n)]
    for chain, state in states.items():
        windows[partition_of[chain]].track(chain, state)
    assign_s = time.perf_counter() - t0

    # One chain per partition becomes due before each loop (its deadline has passed).
    due_chain = {p: next(c for c, q in partition_of.items() if q == p) for p in range(n)}
    heap_times = []
    for loop in range(args.loops):
        at = now + dt.timedelta(seconds=loop)
        for p, chain in due_chain.items():
            old = states[chain]
            assert old.previous is not None
            ended = format_time(at - HOUR - GRACE - dt.timedelta(seconds=1))
            states[chain] = ChainState(
                chain, PreviousDigest("b", "k", "a" * 64, "ff", ended), old.prefix
            )
            windows[p].track(chain, states[chain])
        t = time.perf_counter()
        markers = 0
        for w in windows:
            for m in w.due(at, states):
                markers += 1
                w.cancel(m.chain, states[m.chain])  # as if the marker were written back
            w.committable()
        heap_times.append(time.perf_counter() - t)
        assert markers == n, markers

    # A registry change looks at every chain once (one trail stopped logging).
    active = SimpleNamespace(is_logging=True, log_file_validation_enabled=True)
    stopped = next(iter(states)).trail_arn
    trails = {c.trail_arn: active for c in states}
    trails[stopped] = SimpleNamespace(is_logging=False, log_file_validation_enabled=True)
    t = time.perf_counter()
    ended = {
        arn
        for arn in {c.trail_arn for c in states}
        if not (trails[arn].is_logging and trails[arn].log_file_validation_enabled)
    }
    for w in windows:
        for chain in w.chain_ids():
            if chain.trail_arn in ended:
                w.end(chain, now, states.get(chain))
    follow_s = time.perf_counter() - t
    assert ended == {stopped}

    # -- scan: the previous loop ----------------------------------------------------
    scan_times = []
    for _ in range(args.scan_loops):
        t = time.perf_counter()
        scan_loop(states, n, now, partitioner)
        scan_times.append(time.perf_counter() - t)

    heap_ms = statistics.median(heap_times) * 1000
    scan_ms = statistics.median(scan_times) * 1000
    print(f"chains={args.chains} partitions={n} (all owned by one digester)")
    print(f"per loop, heap (now):   {heap_ms:10.3f} ms  (median of {args.loops})")
    print(f"per loop, scan (before):{scan_ms:10.1f} ms  (median of {args.scan_loops})")
    print(f"scan/heap:              {scan_ms / heap_ms:10.0f}x")
    print(
        f"one-time: partition of every chain {partition_s * 1000:.0f} ms and tracking "
        f"{(assign_s - partition_s) * 1000:.0f} ms at assignment (the digester yields to the "
        f"loop every 1000 chains), registry change {follow_s * 1000:.0f} ms"
    )
    print("consumer session timeout: 10000 ms")


if __name__ == "__main__":
    main()
