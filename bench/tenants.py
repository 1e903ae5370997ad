"""Many tenants on one control API and one router (issue 27 acceptance).

    python bench/tenants.py [--shapes 100x1,10000x1,1000x5] [--samples 200]
                            [--huge 100000] [--cpu 1] [--repeat 3]

Each shape ``AxT`` (A accounts with T trails each) runs in a process of its own, so
its RSS is its own:

* api    - the control API's request pipeline (``recorder.api.service.Api``: SigV4,
           parsing, the operations, the trail index of the in-memory store) on a real
           HTTP port, called through boto3, one client per account used. The trails
           are created through ``CreateTrail`` itself. Latencies are client-side,
           p50/p99 over ``--samples`` calls from accounts taken at random:
           DescribeTrails with 1,000 distinct names (the caller's own names and the ARNs of
           other accounts' trails, each a lookup), GetTrailStatus, CreateTrail (new
           trails in another region). RSS after all of it.
* router - the trail registry as the router (and writer) holds it: every trail parsed
           and routing compiled, then one trail changed and compiled again the way a
           ``trails`` record is applied (only its account's scope); RSS after it.

With ``--huge N``, the largest shape also takes a DescribeTrails with N names while
another account calls GetTrailStatus in a loop: how long the big request took, and the
slowest GetTrailStatus answered meanwhile.

The first shape is the baseline; every later figure is printed beside it with the
ratio. The shapes run ``--repeat`` times, interleaved, each figure the median of its
runs (the load of a shared machine drifts between runs). The store is the in-memory one (the same index as the Kafka-backed store; a
CreateTrail through Kafka adds the broker's round trips, not the lookups measured
here).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

REGION = "us-east-2"
NEW_REGION = "us-west-2"
NAMES_PER_CALL = 1000


def account(i: int) -> str:
    return f"{100000000000 + i:012d}"


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))]


class _Buckets:
    """Every bucket, topic and key exists: resource checks are not what is measured."""

    async def bucket(self, *_: Any, **__: Any) -> None:
        return None

    async def topic(self, name_or_arn: str, account_id: str, region: str, **_: Any) -> str:
        return f"arn:aws:sns:{region}:{account_id}:{name_or_arn.rsplit(':', 1)[-1]}"

    async def kms_key(self, *_: Any, **__: Any) -> Any:
        raise NotImplementedError


async def run_api(accounts: int, trails: int, samples: int, huge: int) -> dict[str, Any]:
    import boto3
    from aiohttp import web
    from botocore.config import Config

    from recorder.api.auth import CredentialStore, Principal
    from recorder.api.operations import Caller, Operations
    from recorder.api.service import Api, ApiMetrics
    from recorder.api.store import MemoryStore
    from recorder.obs.metrics import Metrics
    from recorder.stack.processes import free_port

    ids = [account(i) for i in range(accounts)]
    creds = CredentialStore.from_document(
        {
            "credentials": [
                {"AccessKeyId": f"AK{a}", "SecretAccessKey": f"s{a}", "AccountId": a} for a in ids
            ]
        }
    )
    ops = Operations(store=MemoryStore(), checks=_Buckets())  # type: ignore[arg-type]
    started = time.perf_counter()
    for n, a in enumerate(ids):
        caller = Caller(Principal(f"AK{a}", a), REGION, "bench")
        for t in range(trails):
            await ops.dispatch(
                "CreateTrail", caller, {"Name": f"trail{t}", "S3BucketName": "tenant-logs"}
            )
        if n % 2000 == 1999:
            print(f"  created trails of {n + 1}/{accounts} accounts", file=sys.stderr)
    created_in = time.perf_counter() - started
    api = Api(ops, creds, ApiMetrics.on(Metrics()))
    runner = web.AppRunner(api.app())
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    clients: dict[tuple[str, str], Any] = {}

    def client(a: str, region: str = REGION) -> Any:
        if (a, region) not in clients:
            clients[(a, region)] = boto3.client(
                "cloudtrail",
                endpoint_url=f"http://127.0.0.1:{port}",
                region_name=region,
                aws_access_key_id=f"AK{a}",
                aws_secret_access_key=f"s{a}",
                config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
            )
        return clients[(a, region)]

    rng = random.Random(27)
    callers = rng.sample(ids, min(len(ids), 20))
    arns = [f"arn:aws:cloudtrail:{REGION}:{a}:trail/trail{t}" for a in ids for t in range(trails)]
    # 1,000 distinct names at every size: a small shape adds ARNs of trails that
    # do not exist (each still a lookup), so every shape looks up as many names
    missing = [
        f"arn:aws:cloudtrail:{REGION}:{account(k % accounts)}:trail/gone{k}"
        for k in range(max(0, NAMES_PER_CALL - len(arns)))
    ]
    pool = arns + missing

    def timed(fn: Any, **kw: Any) -> tuple[float, Any]:
        t0 = time.perf_counter()
        out = fn(**kw)
        return time.perf_counter() - t0, out

    def measure() -> dict[str, list[float]]:
        out: dict[str, list[float]] = {"describe": [], "status": [], "create": []}
        for c in callers:  # clients built and connected before timing
            client(c).get_trail_status(Name="trail0")
        for i in range(samples):
            a = rng.choice(callers)
            own = [f"trail{t}" for t in range(trails)]
            names = own + rng.sample(pool, NAMES_PER_CALL - len(own))
            took, got = timed(client(a).describe_trails, trailNameList=names)
            assert {t["Name"] for t in got["trailList"]} >= set(own)
            out["describe"].append(took)
            took, got = timed(client(a).get_trail_status, Name=f"trail{i % trails}")
            assert got["IsLogging"] is False
            out["status"].append(took)
        for i in range(samples):
            a = callers[i % len(callers)]
            c = client(a, NEW_REGION)
            took, _ = timed(c.create_trail, Name=f"new-{i}", S3BucketName="tenant-logs")
            out["create"].append(took)
            c.delete_trail(Name=f"new-{i}")  # the account stays under 5 trails a region
        return out

    lat = await asyncio.to_thread(measure)
    result: dict[str, Any] = {"created_s": created_in}
    for name, xs in lat.items():
        result[f"{name}_p50_ms"] = pct(xs, 50) * 1000
        result[f"{name}_p99_ms"] = pct(xs, 99) * 1000
    if huge:
        result |= await asyncio.to_thread(_huge, client, callers, huge)
    result["api_rss_mib"] = rss_mib()
    await runner.cleanup()
    return result


def _huge(client: Any, callers: list[str], n: int) -> dict[str, Any]:
    """A DescribeTrails with ``n`` names, and another account's GetTrailStatus calls
    meanwhile (from another thread, as another connection)."""
    import threading

    big_caller, other = callers[0], callers[1]
    names = [f"n{i:0{len(str(n - 1))}d}" for i in range(n)]  # 100,000: under 1 MiB
    names[-1] = "trail0"
    slowest: list[float] = []
    done = threading.Event()
    outcome: dict[str, Any] = {}

    def big() -> None:
        t0 = time.perf_counter()
        try:
            got = client(big_caller).describe_trails(trailNameList=names)
            outcome["answer"] = f"{len(got['trailList'])} trails"
        except Exception as exc:  # AWS's error is an acceptable answer too
            outcome["answer"] = type(exc).__name__ + ": " + str(exc)[:200]
        outcome["took"] = time.perf_counter() - t0
        done.set()

    status = client(other)
    status.get_trail_status(Name="trail0")
    thread = threading.Thread(target=big)
    thread.start()
    while not done.is_set():
        t0 = time.perf_counter()
        status.get_trail_status(Name="trail0")
        slowest.append(time.perf_counter() - t0)
    thread.join()
    return {
        "huge_names": n,
        "huge_answer": outcome["answer"],
        "huge_s": outcome["took"],
        "huge_concurrent_status_calls": len(slowest),
        "huge_concurrent_status_max_ms": max(slowest, default=0.0) * 1000,
    }


async def run_router(accounts: int, trails: int) -> dict[str, Any]:
    from recorder.services.registry import TrailRegistry
    from recorder.settings import Settings
    from recorder.trails import Trail

    docs = [
        {
            "Name": f"trail{t}",
            "TrailARN": f"arn:aws:cloudtrail:{REGION}:{account(i)}:trail/trail{t}",
            "HomeRegion": REGION,
            "S3BucketName": "tenant-logs",
            "IsMultiRegionTrail": True,
            "IsLogging": True,
        }
        for i in range(accounts)
        for t in range(trails)
    ]
    registry = TrailRegistry(Settings())
    t0 = time.perf_counter()
    await registry.replace([Trail.from_api(d) for d in docs], {})
    full = time.perf_counter() - t0
    changes = []
    for k in range(20):
        doc = {**docs[k * len(docs) // 20], "S3BucketName": f"other{k}"}
        t0 = time.perf_counter()
        await registry._update({doc["TrailARN"]: Trail.from_api(doc)})
        changes.append(time.perf_counter() - t0)
    assert registry.engine() is not None and len(registry.trails) == len(docs)
    return {
        "compile_full_ms": full * 1000,
        "compile_one_change_ms": statistics.median(changes) * 1000,
        "router_rss_mib": rss_mib(),
    }


ROWS = [
    ("DescribeTrails 1,000 names p50 ms", "describe_p50_ms"),
    ("DescribeTrails 1,000 names p99 ms", "describe_p99_ms"),
    ("GetTrailStatus p50 ms", "status_p50_ms"),
    ("GetTrailStatus p99 ms", "status_p99_ms"),
    ("CreateTrail p50 ms", "create_p50_ms"),
    ("CreateTrail p99 ms", "create_p99_ms"),
    ("registry compile, one change ms", "compile_one_change_ms"),
    ("registry compile, all trails ms", "compile_full_ms"),
    ("API RSS MiB", "api_rss_mib"),
    ("router RSS MiB", "router_rss_mib"),
]


def child(mode: str, shape: str, args: argparse.Namespace, huge: int) -> dict[str, Any]:
    cmd = [
        sys.executable,
        __file__,
        "--one",
        mode,
        "--shapes",
        shape,
        "--samples",
        str(args.samples),
        "--huge",
        str(huge),
        "--cpu",
        str(args.cpu),
    ]
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shapes", default="100x1,10000x1,1000x5")
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--huge", type=int, default=100_000, help="0: no huge request")
    ap.add_argument("--cpu", type=int, default=1, help="core to pin each run to")
    ap.add_argument("--repeat", type=int, default=3, help="runs of every shape (median)")
    ap.add_argument("--one", choices=["api", "router"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    shapes = args.shapes.split(",")
    if args.one:
        os.sched_setaffinity(0, {args.cpu})
        a, t = (int(x) for x in shapes[0].split("x"))
        if args.one == "api":
            out = asyncio.run(run_api(a, t, args.samples, args.huge))
        else:
            out = asyncio.run(run_router(a, t))
        print(json.dumps(out))
        return 0
    runs: dict[str, list[dict[str, Any]]] = {s: [] for s in shapes}
    biggest = max(shapes, key=lambda s: (int(_trails(s).replace(",", "")), s))
    for r in range(args.repeat):  # interleaved: a shared machine's load drifts
        for shape in shapes:
            print(f"run {r + 1}/{args.repeat}, shape {shape}: api ...", file=sys.stderr, flush=True)
            huge = args.huge if shape == biggest and r == 0 else 0
            got = child("api", shape, args, huge)
            print(
                f"run {r + 1}/{args.repeat}, shape {shape}: router ...", file=sys.stderr, flush=True
            )
            runs[shape].append(got | child("router", shape, args, 0))
    # each figure the median of its runs; the huge request's, from the run that made it
    figures = {
        s: {
            **rs[0],
            **{k: statistics.median(r[k] for r in rs) for k in rs[0] if k in dict(ROWS).values()},
        }
        for s, rs in runs.items()
    }
    base = shapes[0]
    width = 36
    head = f"{'':{width}}" + "".join(f"{s + ' (' + _trails(s) + ' trails)':>24}" for s in shapes)
    print(head)
    for label, key in ROWS:
        cells = []
        for s in shapes:
            v = figures[s][key]
            ratio = "" if s == base else f" ({v / figures[base][key]:.2f}x)"
            cells.append(f"{v:>10.1f}{ratio:>14}")
        print(f"{label:{width}}" + "".join(f"{c:>24}" for c in cells))
    for s in shapes:
        f = figures[s]
        if "huge_names" in f:
            print(
                f"\n{s}: DescribeTrails with {f['huge_names']:,} names answered in "
                f"{f['huge_s']:.2f} s ({f['huge_answer']}); meanwhile another account's "
                f"{f['huge_concurrent_status_calls']} GetTrailStatus calls, slowest "
                f"{f['huge_concurrent_status_max_ms']:.0f} ms"
            )
    worst = max(
        figures[s][k] / figures[base][k]
        for s in shapes[1:]
        for k in ("describe_p50_ms", "status_p50_ms", "create_p50_ms")
    )
    print(
        f"\nclosing note: per-request p50 latency at the larger shapes is at most "
        f"{worst:.2f}x the {base} figures (target: within 2x)"
    )
    return 0


def _trails(shape: str) -> str:
    a, t = (int(x) for x in shape.split("x"))
    return f"{a * t:,}"


if __name__ == "__main__":
    sys.exit(main())
