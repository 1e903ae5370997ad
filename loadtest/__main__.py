"""Load test: drive realistic traffic through the real producer into a running stack.

    python -m loadtest --rate 2000 --duration 60 [--accounts 10] [--trails 20]
    python -m loadtest --rate 2000 --duration 600 --break-destination 1 [--repair-at 300]

Starts a private local stack (noida-db + moto) and recorder's router and writer as
separate processes, emits ``rate`` events/s for ``duration`` seconds through the
producer's Kafka sink, then checks completeness from S3 - every expected
(eventID, trail, account, region) exactly once, nothing else - and reports
throughput, consumer lag, end-to-end latency percentiles (event emitted -> its log
file in S3) and the recorder's CPU and memory: a terminal summary (with a progress
bar while it runs) and an HTML report with plots.

``--break-destination N`` deletes the buckets of N trails before traffic starts
(NoSuchBucket: the writer parks them on ``routed-retry``); the summary then shows the
writer's RSS, how far its committed offsets trail the log, and the parked events.
``--repair-at S`` creates those buckets again S seconds in: every parked event must
then arrive too, exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import re
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import orjson
from aiokafka import AIOKafkaConsumer

from loadtest.burst import INSIGHTS_ENV, Burst
from loadtest.burst import add_argument as add_burst_argument
from loadtest.procs import RecorderProcess
from loadtest.report import percentile, render
from loadtest.traffic import TrafficMix, account_ids, trail_set
from loadtest.trails import install_trails
from recorder.events import encode
from recorder.producer import KafkaEventSink
from recorder.stack.local import LocalStack
from recorder.stack.processes import free_port

_LAG = re.compile(
    r'^recorder_consumer_lag_records\{partition="\d+",stage="(\w+)"\} ([0-9.e+]+)$', re.M
)
_TICK = os.sysconf("SC_CLK_TCK")


def proc_usage(pid: int) -> tuple[float, float]:
    """(CPU seconds, RSS MiB) of one process, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / _TICK
        rss = next(
            int(line.split()[1])
            for line in Path(f"/proc/{pid}/status").read_text().splitlines()
            if line.startswith("VmRSS")
        )
        return cpu, rss / 1024
    except (OSError, StopIteration, IndexError, ValueError):
        return 0.0, 0.0


def scrape_lag(proc: RecorderProcess) -> dict[str, float]:
    try:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{proc.metrics_port}/metrics", timeout=2
        ) as r:
            text = r.read().decode()
    except OSError:
        return {}
    lag: dict[str, float] = {}
    for stage, value in _LAG.findall(text):
        lag[stage] = lag.get(stage, 0.0) + float(value)
    return lag


class Manifests:
    """Follows `delivered`: when each log file arrived and how many records it holds."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.arrival: dict[str, float] = {}
        self.records = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    async def _run(self) -> None:
        consumer = AIOKafkaConsumer(
            "delivered",
            bootstrap_servers=self.bootstrap,
            group_id=None,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            while not self._stop.is_set():
                batch = await consumer.getmany(timeout_ms=200)
                now = time.time()
                for msgs in batch.values():
                    for m in msgs:
                        manifest = orjson.loads(m.value)
                        key = f"{manifest['bucket']}/{manifest['key']}"
                        if key not in self.arrival and "/CloudTrail-Insight/" not in key:
                            self.arrival[key] = now
                            self.records += int(manifest["recordCount"])
        finally:
            await consumer.stop()


def progress(
    elapsed: float, duration: float, sent: int, delivered: int, lag: dict[str, float]
) -> None:
    width = 30
    done = min(1.0, elapsed / duration) if duration else 1.0
    bar = "#" * int(done * width) + "-" * (width - int(done * width))
    sys.stderr.write(
        f"\r[{bar}] {elapsed:5.0f}s  sent {sent:>9,}  delivered {delivered:>9,}  "
        f"lag router {lag.get('router', 0):>7,.0f} writer {lag.get('writer', 0):>7,.0f}   "
    )
    sys.stderr.flush()


def run(
    args: argparse.Namespace, stack: LocalStack, work: Path
) -> tuple[dict[str, Any], list[dict[str, float]], list[float]]:
    kw = stack.settings().aws_client_kwargs()
    s3, kms, sns = boto3.client("s3", **kw), boto3.client("kms", **kw), boto3.client("sns", **kw)
    accounts = account_ids(args.accounts)
    specs = trail_set(
        accounts,
        args.trails,
        kms_key_arn=kms.create_key(Description="load test")["KeyMetadata"]["Arn"],
        topic_arn=sns.create_topic(Name="load-notices")["TopicArn"],
    )
    if args.burst:
        Burst.enable_insights(specs)
    trails = install_trails(s3, specs, work)
    broken = {t["S3BucketName"] for t in specs[: args.break_destination]}
    for bucket in broken:
        s3.delete_bucket(Bucket=bucket)
    broken_arns = {trails.buckets[b] for b in broken}
    repaired = not broken
    held: set[tuple[str, str, str, str]] = set()  # deliveries to broken trails
    env = {
        "RECORDER_TRAILS_FILE": str(trails.trails_file),
        "RECORDER_CUT_INTERVAL": str(args.cut_interval),
    }
    procs = [
        RecorderProcess(stack, ["router"], work, env=env).start(),
        RecorderProcess(stack, ["writer"], work, env=env).start(),
    ]
    if args.burst:
        procs.append(
            RecorderProcess(stack, ["insights"], work, env={**env, **INSIGHTS_ENV}).start()
        )
    manifests = Manifests(stack.bootstrap_servers)
    manifests.start()
    sink = KafkaEventSink(stack.bootstrap_servers, journal_dir=work / "journal")
    mix = TrafficMix(accounts, seed=args.seed)
    emitted: dict[str, float] = {}
    expected: set[tuple[str, str, str, str]] = set()
    samples: list[dict[str, float]] = []
    cpu0 = sum(proc_usage(p.proc.pid)[0] for p in procs if p.proc)
    start = time.time()
    last_sample = start
    last_sent = last_delivered = 0
    last_cpu = cpu0
    sent = 0
    end_send = start + args.duration
    deadline = end_send + args.drain_timeout
    try:
        while True:
            now = time.time()
            if not repaired and args.repair_at is not None and now - start >= args.repair_at:
                for bucket in broken:
                    s3.create_bucket(Bucket=bucket)
                repaired = True
                expected |= held
                broken_arns = set()
            if now < end_send:
                due = int((now - start) * args.rate) - sent
                for _ in range(max(0, due)):
                    event = mix.event(now)
                    emitted[event["eventID"]] = now
                    for d in trails.expected(event):
                        (held if d[1] in broken_arns else expected).add(d)
                    sink.emit(event["recipientAccountId"].encode(), encode(event))
                    sent += 1
                for event in args.burst.events(mix, now - start, now) if args.burst else ():
                    for d in trails.expected(event):
                        (held if d[1] in broken_arns else expected).add(d)
                    sink.emit(event["recipientAccountId"].encode(), encode(event))
            if now - last_sample >= 1.0:
                lag: dict[str, float] = {}
                for p in procs:
                    for k, v in scrape_lag(p).items():
                        lag[k] = lag.get(k, 0) + v
                usage = [proc_usage(p.proc.pid) for p in procs if p.proc]
                writer = procs[1]
                cpu = sum(u[0] for u in usage)
                dt_ = now - last_sample
                samples.append(
                    {
                        "t": now - start,
                        "sent_rate": (sent - last_sent) / dt_,
                        "delivered_rate": (manifests.records - last_delivered) / dt_,
                        "expected_total": float(len(expected)),
                        "delivered_total": float(manifests.records),
                        "router_lag": lag.get("router", 0.0),
                        "writer_lag": lag.get("writer", 0.0),
                        "cpu": (cpu - last_cpu) / dt_ * 100,
                        "rss_mib": sum(u[1] for u in usage),
                        "writer_rss_mib": usage[1][1] if len(usage) > 1 else 0.0,
                        "writer_uncommitted": _metric(
                            writer, "recorder_writer_uncommitted_records"
                        ),
                        "parked_events": _metric(writer, "recorder_writer_parked_events"),
                    }
                )
                last_sample, last_sent, last_delivered, last_cpu = now, sent, manifests.records, cpu
                progress(now - start, args.duration, sent, manifests.records, lag)
                if now >= end_send and manifests.records >= len(expected):
                    break
                if now > deadline:
                    print(
                        f"\ndrain timeout: {manifests.records}/{len(expected)} delivered",
                        file=sys.stderr,
                    )
                    break
            time.sleep(0.005)
        sink.close(30)
        send_seconds = min(time.time(), end_send) - start
        drained_at = time.time()
    finally:
        for p in procs:
            p.stop()
        manifests.stop()
    sys.stderr.write("\nreading every log file back from S3 ...\n")
    seen: Counter[tuple[str, str, str, str]] = Counter()
    latencies: list[float] = []
    files = 0
    insights: Counter[str] = Counter()  # Insights events by state
    for t in specs:
        bucket = t["S3BucketName"]
        if bucket in broken and not repaired:
            continue
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for obj in page.get("Contents", []):
                key = obj["Key"]
                parts = key.split("/")
                if "CloudTrail-Insight" in parts:
                    body = gzip.decompress(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
                    insights.update(
                        r["insightDetails"]["state"] for r in json.loads(body)["Records"]
                    )
                    continue
                files += 1
                arrived = manifests.arrival.get(f"{bucket}/{key}")
                for r in json.loads(
                    gzip.decompress(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
                )["Records"]:
                    seen[(r["eventID"], t["TrailARN"], parts[1], parts[3])] += 1
                    if arrived is not None and r["eventID"] in emitted:
                        latencies.append(arrived - emitted[r["eventID"]])
    lost = len(expected - set(seen))
    duplicated = sum(c - 1 for c in seen.values() if c > 1)
    unexpected = sum(c for k, c in seen.items() if k not in expected)
    summary: dict[str, Any] = {
        "events sent": sent,
        "target rate (events/s)": args.rate,
        "achieved send rate (events/s)": sent / send_seconds,
        "expected deliveries": len(expected),
        "delivered records": sum(seen.values()),
        "delivery throughput (records/s, start to drained)": sum(seen.values())
        / (drained_at - start),
        "log files": files,
        "missing": lost,
        "duplicated": duplicated,
        "unexpected": unexpected,
        "latency p50 (s)": percentile(latencies, 50),
        "latency p90 (s)": percentile(latencies, 90),
        "latency p99 (s)": percentile(latencies, 99),
        "latency max (s)": max(latencies, default=float("nan")),
        "latency mean (s)": statistics.fmean(latencies) if latencies else float("nan"),
        "max router lag": max((s["router_lag"] for s in samples), default=0),
        "max writer lag": max((s["writer_lag"] for s in samples), default=0),
        "recorder CPU mean (% of a core)": statistics.fmean(s["cpu"] for s in samples)
        if samples
        else 0,
        "recorder RSS max (MiB)": max((s["rss_mib"] for s in samples), default=0),
        "cut interval (s)": args.cut_interval,
        **broken_summary(args, samples, len(held), end_send - start),
        "accounts / trails": f"{args.accounts} / {args.trails}",
    }
    if args.burst:
        summary["burst calls sent"] = args.burst.sent
        summary["Insights events Start / End"] = f"{insights['Start']} / {insights['End']}"
    return summary, samples, latencies


def _metric(proc: RecorderProcess, name: str) -> float:
    try:
        return proc.metric(name)
    except (OSError, ValueError, KeyError):
        return float("nan")


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


def main() -> int:
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
    args = ap.parse_args()
    report_path = (
        args.report or Path("loadtest/reports") / f"load-{time.strftime('%Y%m%dT%H%M%S')}.html"
    )
    with tempfile.TemporaryDirectory() as tmp:
        stack = LocalStack(Path(tmp) / "stack", kafka_port=free_port(), moto_port=free_port())
        stack.start()
        try:
            summary, samples, latencies = run(args, stack, Path(tmp))
        finally:
            stack.stop()
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text(render(summary, samples, latencies))
    # the per-second samples (rates, lag, CPU, RSS per process, parked events) as data
    report_path.with_suffix(".json").write_text(json.dumps(samples))
    print()
    width = max(len(k) for k in summary)
    for k, v in summary.items():
        print(f"{k:<{width}}  {v:,.2f}" if isinstance(v, float) else f"{k:<{width}}  {v}")
    print(f"\nreport: {report_path.resolve()}")
    ok = summary["missing"] == 0 and summary["duplicated"] == 0 and summary["unexpected"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
