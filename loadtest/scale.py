"""Cost per event as processes are added: 1, 2 and 4 routers and writers, same traffic.

    python -m loadtest.scale [--broker noida|tansu] [--processes 1,2,4] [--rate 2000] [--duration 30]
                             [--repeat 3]

For each process count, a fresh stack and the same offered load (a rate every count
keeps up with) over the same partitions: static assignment on the embedded broker
(noida-db splits the partitions round robin), dynamic group membership on tansu.
Each run measures the CPU-seconds its router and writer processes used in steady
state (from the end of a warm-up to the end of sending: one-time start-up costs
such as each writer's first S3 and SNS connections, and the idle wait for the
last cut, stay out), and prints CPU-seconds per 1,000 events for each count next
to 1 process's: with more processes the total throughput cannot grow on
a 2-core machine, but the cost per event shows whether it would on a real cluster
(target: at most 10 % more at 4 processes than at 1). Each process's idle CPU
(before traffic) is shown too, since that is the part of the cost that grows with
the process count whatever the load.

One 30-second run of each count varies by 20 % or more from run to run on a 2-core
machine (the cut bursts, and a dozen processes sharing two cores), more than the
10 % the target allows, so ``--repeat R`` runs the counts R times, interleaved
(1, 2, 4, 1, 2, 4, ...) so that drift on the machine falls on every count alike, and
reports for each count the run of median cost with every run's cost beside it.

The host's speed drifts too, and the same code runs slower when eight processes
share two cores than when two do, which a cluster with a core per process would not
see: each run also times a fixed piece of the router's pure path in a process of its
own (:mod:`loadtest.reference`), and the table compares the counts at one reference
speed, with the ratio as measured beside it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from loadtest import harness
from loadtest.reference import Reference


def window_cost(
    samples: list[dict[str, float]], start: float, end: float
) -> tuple[dict[str, float], float]:
    """CPU-seconds per process and events sent in the samples of (start, end].

    Measured in steady state: after the warm-up (every writer has made its first
    S3 and SNS connections, a one-time cost each process pays once) and before
    the drain (when the processes mostly wait for the last cut)."""
    used: dict[str, float] = {}
    first = last = None
    for s in samples:
        if s["t"] <= start:
            first = s
            continue
        if s["t"] > end + 1e-6:
            break
        last = s
        for k, v in s.items():
            if k.startswith("cpu."):
                used[k[4:]] = used.get(k[4:], 0.0) + v / 100 * s["dt"]
    if first is None or last is None:
        return used, 0.0
    return used, last["sent_total"] - first["sent_total"]


def cost_row(n: int, out: harness.Outcome, warmup: float, duration: float) -> dict[str, Any]:
    """One line of the table: what n processes cost per 1,000 events in steady state."""
    r = out.result
    used, events = window_cost(r["samples"], warmup, warmup + duration)
    router = sum(v for k, v in used.items() if k.startswith("router"))
    writer = sum(v for k, v in used.items() if k.startswith("writer"))
    idle = sum(v for k, v in r["idle_percent"].items() if k.startswith(("router", "writer")))
    k_events = events / 1000 or float("nan")
    return {
        "broker / membership": r["membership"],
        "processes": n,
        "events measured": int(events),
        "events/s": events / duration,
        "router CPU-s / 1k events": router / k_events,
        "writer CPU-s / 1k events": writer / k_events,
        "CPU-s / 1k events": (router + writer) / k_events,
        "idle CPU, all processes (% of a core)": idle,
        "missing / duplicated": f"{r['missing']} / {r['duplicated']}",
        "machine busy %": _mean(
            [x["machine_busy"] for x in r["samples"] if warmup < x["t"] <= warmup + duration]
        ),
        "load average": out.load_before,
    }


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


#: The reference's µs per event in a run's measured seconds (loadtest.reference).
REFERENCE = "reference µs/event"
#: A run's cost at the reference speed common to every run of the table.
AT_REFERENCE = "CPU-s / 1k events at reference speed"


def normalise(runs: dict[int, list[dict[str, Any]]]) -> dict[int, list[dict[str, Any]]]:
    """Each run's cost as it would be at one host speed: the median reference of all
    runs. A run whose host ran slow (its reference took longer) costs more per event
    for that reason alone; dividing by its reference takes the host out, and
    multiplying by the common median keeps the figure in CPU-seconds. Unless every
    run has its reference, none is taken there: the table ranks and compares its runs
    by one measure, never some at the reference speed and others as measured."""
    refs = [r.get(REFERENCE) for rows in runs.values() for r in rows]
    if not refs or not all(refs):
        return runs
    common = statistics.median(refs)
    return {
        n: [r | {AT_REFERENCE: r["CPU-s / 1k events"] * common / r[REFERENCE]} for r in rows]
        for n, rows in runs.items()
    }


def _cost(row: dict[str, Any]) -> float:
    """The cost a row is ranked and compared by: at reference speed where measured."""
    return float(row.get(AT_REFERENCE, row["CPU-s / 1k events"]))


def median_rows(runs: dict[int, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Per process count, the run of median cost, with every run's cost listed."""
    rows = []
    for _, rows_of_count in sorted(runs.items()):
        ordered = sorted(rows_of_count, key=_cost)
        median = ordered[(len(ordered) - 1) // 2]
        each = ", ".join(f"{_cost(r):.3f}" for r in rows_of_count)
        missing = sum(int(r["missing / duplicated"].split(" / ")[0]) for r in rows_of_count)
        duplicated = sum(int(r["missing / duplicated"].split(" / ")[1]) for r in rows_of_count)
        rows.append(
            median
            | {
                "runs (CPU-s / 1k events)": each,
                "missing / duplicated": f"{missing} / {duplicated}",
            }
        )
    return rows


def with_ratio(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each row's cost per event relative to the first row's (1 process): at the
    reference speed where the rows have it, and as measured beside it."""
    if not rows:
        return rows
    base, raw = _cost(rows[0]), rows[0]["CPU-s / 1k events"]
    out = []
    for r in rows:
        r = r | {"vs 1 process": _cost(r) / base if base else 0.0}
        if AT_REFERENCE in r:
            r["vs 1 process, as measured"] = r["CPU-s / 1k events"] / raw if raw else 0.0
        out.append(r)
    return out


def markdown(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    cols = list(rows[0])
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        cells = []
        for c in cols:
            v = r[c]
            cells.append(
                f"{v:,.3f}"
                if isinstance(v, float) and v < 10
                else f"{v:,.0f}"
                if isinstance(v, float)
                else str(v)
            )
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def run_once(n: int, args: argparse.Namespace) -> dict[str, Any]:
    """One run of n routers and n writers; its line of the table."""
    opts = harness.Options(
        rate=args.rate,
        duration=args.warmup + args.duration,
        cut_interval=args.cut_interval,
        broker=args.broker,
        processes=n,
        membership=args.membership or "",
        idle_seconds=args.idle_seconds,
        drain_timeout=120,
        # lag is not what this measures: scrape it rarely, so that scraping
        # (about 1 ms of each process's CPU a time) stays out of the cost
        lag_every=10.0,
    )
    with tempfile.TemporaryDirectory() as tmp, Reference() as reference:
        out = harness.run(opts, Path(tmp))
    start = out.result["t0"] + args.warmup
    return cost_row(n, out, args.warmup, args.duration) | {
        REFERENCE: reference.median(start, start + args.duration)
    }


def main() -> int:
    ap = argparse.ArgumentParser(
        prog="python -m loadtest.scale", description=__doc__.splitlines()[0]
    )
    ap.add_argument("--broker", choices=["noida", "tansu"], default="noida")
    ap.add_argument(
        "--membership",
        choices=["static", "dynamic"],
        help="group membership (default: static on noida, dynamic on tansu)",
    )
    ap.add_argument("--processes", default="1,2,4", help="comma-separated process counts")
    ap.add_argument("--rate", type=float, default=2000)
    ap.add_argument("--duration", type=float, default=30, help="seconds measured")
    ap.add_argument(
        "--warmup", type=float, default=12, help="seconds of traffic before the measurement"
    )
    ap.add_argument("--cut-interval", type=float, default=5.0)
    ap.add_argument("--idle-seconds", type=float, default=5.0)
    ap.add_argument("--repeat", type=int, default=1, help="runs of each count, interleaved")
    ap.add_argument("--json", type=Path, help="also write the rows here")
    args = ap.parse_args()
    counts = [int(p) for p in args.processes.split(",")]
    runs: dict[int, list[dict[str, Any]]] = {n: [] for n in counts}
    for round_ in range(args.repeat):
        for n in counts:
            sys.stderr.write(
                f"\n== {n} router + {n} writer process(es) on {args.broker}"
                f" (run {round_ + 1} of {args.repeat})\n"
            )
            runs[n].append(run_once(n, args))
    rows = with_ratio(median_rows(normalise(runs)))
    print()
    print(markdown(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    ok = all(r["missing / duplicated"] == "0 / 0" for r in rows)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
