"""Trail registry compile time under growth (issue 14 item 6).

    python bench/registry.py [--sizes 100,1000,10000] [--cpu 1]

For each size N (trails of the load test's shapes, 10 per account), on one core:

* full     - parse N trail documents and compile the routing engine from nothing
             (a process starting, or the whole set replaced);
* one more - the registry's path for one changed trail: parse that document, compile
             with the previous engine, so only the changed account's scope is rebuilt.

Both run in the registry's worker thread in the service, so neither blocks the event
loop (tests/unit/services/test_registry.py); this measures how long a change takes to
reach routing.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from loadtest.traffic import account_ids, trail_set
from recorder.routing import RoutingEngine
from recorder.trails import Trail


def measure(n: int) -> tuple[float, float]:
    docs = trail_set(account_ids(max(1, n // 10)), n)
    start = time.perf_counter()
    trails = [Trail.from_api(d) for d in docs]
    engine = RoutingEngine.compile(trails, {})
    full = time.perf_counter() - start
    changed = {**docs[0], "S3BucketName": "another-bucket"}
    start = time.perf_counter()
    trails[0] = Trail.from_api(changed)
    RoutingEngine.compile(trails, {}, previous=engine)
    one = time.perf_counter() - start
    return full, one


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100,1000,10000")
    ap.add_argument("--cpu", type=int, default=1, help="core to pin this process to")
    args = ap.parse_args()
    os.sched_setaffinity(0, {args.cpu})
    print(f"{'trails':>8}{'full parse+compile ms':>24}{'one trail changed ms':>24}")
    for n in (int(x) for x in args.sizes.split(",")):
        full, one = measure(n)
        print(f"{n:>8}{full * 1000:>24.1f}{one * 1000:>24.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
