"""Load test: drive realistic traffic through the real producer into a running stack.

    python -m loadtest --rate 2000 --duration 60 [--accounts 10] [--trails 20]
    python -m loadtest --find-capacity [--start-rate 1000 --step-factor 1.3 --step-seconds 25]
    python -m loadtest --rate 2000 --duration 600 --break-destination 1 [--repair-at 300]

Starts a private local stack (noida-db + moto) and recorder's router and writer as
separate processes. Traffic comes from generator processes (as many as the rate
needs, each with its own producer); a checker process samples every second, reads
every log file back from S3 as it is announced, and checks completeness - every
expected (eventID, trail, account, region) exactly once, nothing else - so the
harness never starves what it measures. Reports throughput, consumer lag,
end-to-end latency percentiles (event emitted -> its log file in S3), CPU per
process and as a share of the machine: a terminal summary (with a progress line
while it runs) and an HTML report with plots.

``--find-capacity`` steps the offered rate up until p99 latency exceeds the cut
interval + 10 s or the lag keeps growing, and reports the highest rate held next
to the broker's own produce+consume floor measured in the same run.

``--break-destination N`` deletes the buckets of N trails before traffic starts
(NoSuchBucket: the writer parks them on ``routed-retry``); the summary then shows the
writer's RSS, how far its committed offsets trail the log, and the parked events.
``--repair-at S`` creates those buckets again S seconds in: every parked event must
then arrive too, exactly once.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from loadtest import capacity, harness
from loadtest.burst import add_argument as add_burst_argument
from loadtest.report import render
from recorder.stack.local import add_retention_margin_argument


def build_parser() -> argparse.ArgumentParser:
    """Every option of ``python -m loadtest``, in one place."""
    ap = argparse.ArgumentParser(prog="python -m loadtest", description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=2000)
    ap.add_argument("--duration", type=float, default=60)
    ap.add_argument("--accounts", type=int, default=10)
    ap.add_argument("--trails", type=int, default=20)
    ap.add_argument("--cut-interval", type=float, default=5.0)
    ap.add_argument("--drain-timeout", type=float, default=300.0)
    ap.add_argument("--seed", type=int, default=7)
    add_burst_argument(ap)
    ap.add_argument(
        "--break-destination",
        type=int,
        default=0,
        metavar="N",
        help="delete N trails' buckets before traffic starts (their batches are parked)",
    )
    ap.add_argument(
        "--repair-at",
        type=float,
        metavar="SECONDS",
        help="create the broken buckets again this many seconds in",
    )
    ap.add_argument(
        "--report", type=Path, help="HTML report path (default loadtest/reports/load-<time>.html)"
    )
    ap.add_argument("--broker", choices=["noida", "tansu"], default="noida")
    ap.add_argument(
        "--processes", type=int, default=1, help="router processes, and as many writers"
    )
    ap.add_argument(
        "--generators",
        type=int,
        default=0,
        help="traffic processes (0: one per 4,000 events/s, up to 4)",
    )
    ap.add_argument(
        "--find-capacity",
        action="store_true",
        help="step the rate up until p99 > cut interval + 10 s or lag keeps growing",
    )
    ap.add_argument("--start-rate", type=float, default=1000)
    ap.add_argument("--step-factor", type=float, default=1.3)
    ap.add_argument("--step-seconds", type=float, default=25)
    ap.add_argument("--max-rate", type=float, default=20_000)
    ap.add_argument("--floor-events", type=int, default=50_000, help="events for the broker floor")
    add_retention_margin_argument(ap, harness.RETENTION_MARGIN)
    return ap


def options(args: argparse.Namespace) -> harness.Options:
    plan = None
    if args.find_capacity:
        plan = capacity.Plan(
            start_rate=args.start_rate,
            factor=args.step_factor,
            max_rate=args.max_rate,
            step_seconds=args.step_seconds,
            cut_interval=args.cut_interval,
        )
    return harness.Options(
        rate=args.rate,
        duration=args.duration,
        accounts=args.accounts,
        trails=args.trails,
        cut_interval=args.cut_interval,
        drain_timeout=args.drain_timeout if plan is None else min(args.drain_timeout, 120),
        seed=args.seed,
        broker=args.broker,
        processes=args.processes,
        generators=args.generators,
        plan=plan,
        floor_events=args.floor_events if plan else 0,
        break_destination=args.break_destination,
        repair_at=args.repair_at,
        burst=args.burst,
        retention_margin=args.retention_margin,
    )


def summarize(args: argparse.Namespace, out: harness.Outcome) -> dict[str, Any]:
    """The terminal and report summary of one run."""
    r = out.result
    lat = r["latency"]
    send = r["send_seconds"] or float("nan")
    span = r["cpu_span"] or float("nan")
    cores = r["cores"]
    recorder_cpu = sum(v for k, v in r["cpu_seconds"].items() if k.startswith(("router", "writer")))
    harness_cpu = sum(
        v for k, v in r["cpu_seconds"].items() if k.startswith(("generator", "checker"))
    )
    summary: dict[str, Any] = {
        "events sent": r["sent"],
        "offered rate (events/s)": "stepped" if args.find_capacity else args.rate,
        "achieved send rate (events/s)": r["sent"] / send,
        "expected deliveries": r["expected"],
        "delivered records": r["delivered"],
        "delivery throughput (records/s, start to drained)": r["delivered"]
        / (span if math.isnan(r["drained_seconds"]) else r["drained_seconds"]),
        "log files": r["files"],
        "missing": r["missing"],
        "drained": "no (drain timeout)" if math.isnan(r["drained_seconds"]) else "yes",
        "duplicated": r["duplicated"],
        "unexpected": r["unexpected"],
        "latency p50 (s)": lat["50"],
        "latency p90 (s)": lat["90"],
        "latency p99 (s)": lat["99"],
        "latency max (s)": lat["max"],
        "latency mean (s)": lat["mean"],
        "max router lag": max((s["router_lag"] for s in r["samples"]), default=0),
        "max writer lag": max((s["writer_lag"] for s in r["samples"]), default=0),
        "recorder CPU mean (% of a core)": recorder_cpu / span * 100,
        "recorder CPU (% of the machine)": recorder_cpu / span * 100 / cores,
        "load harness CPU (% of the machine)": harness_cpu / span * 100 / cores,
        "machine busy, every process (%)": r["machine_busy"],
        "cores": cores,
        "load average before / after": f"{out.load_before} / {out.load_after}",
        "recorder RSS max (MiB)": max((s["rss_mib"] for s in r["samples"]), default=0),
        "samples / gaps / largest interval (s)": f"{len(r['samples'])} / {len(r['gaps'])} / "
        f"{r['max_sample_interval']:.2f}",
        "cut interval (s)": args.cut_interval,
        **broken_summary(args, r["samples"], r["held deliveries"], r["send_seconds"]),
        "accounts / trails": f"{args.accounts} / {args.trails}",
        "broker / processes / generators": f"{args.broker} / {args.processes} / "
        f"{len([k for k in r['cpu_seconds'] if k.startswith('generator')])}",
    }
    if args.burst:
        summary["burst calls sent"] = r["burst sent"]
        ins = r["insights"]
        summary["Insights events Start / End"] = f"{ins.get('Start', 0)} / {ins.get('End', 0)}"
    if args.find_capacity:
        held = r["held"]
        fl = out.floor.get("floor events/s", float("nan"))
        summary |= {
            "capacity: highest rate held (events/s)": held["sent_rate"] if held else 0.0,
            "capacity: p50 / p99 latency at that rate (s)": f"{held['p50']:.2f} / {held['p99']:.2f}"
            if held
            else "-",
            "broker floor, produce+consume (events/s)": fl,
            "capacity / floor": (held["sent_rate"] if held else 0.0) / fl,
            "stopped because": r["end_reason"],
        }
    return summary


def broken_summary(
    args: argparse.Namespace, samples: list[dict[str, float]], held: int, sending: float
) -> dict[str, Any]:
    """With a broken destination: writer memory and committed-offset progress."""
    if not args.break_destination:
        return {}
    during = [s for s in samples if s["t"] <= sending] or samples
    tail = [s for s in during if s["t"] >= sending / 2] or during
    return {
        "broken destinations (trails)": args.break_destination,
        "deliveries to broken trails": held,
        "writer RSS max (MiB)": max(s["writer_rss_mib"] for s in during),
        "writer RSS at end of sending (MiB)": during[-1]["writer_rss_mib"],
        "writer uncommitted records max": max(s["writer_uncommitted"] for s in during),
        "writer uncommitted records, 2nd half mean": statistics.fmean(
            s["writer_uncommitted"] for s in tail
        ),
        "parked events max": max(s["parked_events"] for s in samples),
        "repaired at (s)": args.repair_at if args.repair_at is not None else "never",
    }


def cpu_rows(out: harness.Outcome) -> list[dict[str, Any]]:
    r = out.result
    span = r["cpu_span"] or float("nan")
    return [
        {
            "process": name,
            "CPU seconds": secs,
            "% of one core": secs / span * 100,
            "% of the machine": secs / span * 100 / r["cores"],
            "idle % of one core (before traffic)": r["idle_percent"].get(name, float("nan")),
        }
        for name, secs in r["cpu_seconds"].items()
    ]


def main() -> int:
    args = build_parser().parse_args()
    report_path = (
        args.report or Path("loadtest/reports") / f"load-{time.strftime('%Y%m%dT%H%M%S')}.html"
    )
    with tempfile.TemporaryDirectory() as tmp:
        out = harness.run(options(args), Path(tmp))
    summary = summarize(args, out)
    tables: dict[str, list[dict[str, Any]]] = {"CPU per process": cpu_rows(out)}
    if args.find_capacity:
        tables["Capacity steps"] = out.result["steps"]
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text(render(summary, out.result["samples"], out.latencies, tables))
    report_path.with_suffix(".json").write_text(
        json.dumps({"summary": summary, "floor": out.floor, **out.result}, default=str)
    )
    print()
    width = max(len(k) for k in summary)
    for k, v in summary.items():
        print(f"{k:<{width}}  {v:,.2f}" if isinstance(v, float) else f"{k:<{width}}  {v}")
    for title, rows in tables.items():
        print(f"\n{title}")
        for row in rows:
            print(
                "  "
                + "  ".join(
                    f"{k}={v:,.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()
                )
            )
    print(f"\nreport: {report_path.resolve()} (samples: {report_path.with_suffix('.json').name})")
    ok = summary["missing"] == 0 and summary["duplicated"] == 0 and summary["unexpected"] == 0
    if args.find_capacity:
        ok = out.result["held"] is not None and summary["duplicated"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
