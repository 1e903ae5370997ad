"""The checker: one process that samples, reads every log file back, and steps the load.

It runs apart from the generators and from the recorder, so neither can starve
its clock: every ``interval`` it takes one sample (sent, expected, delivered, lag
from each recorder process's ``/metrics``, CPU of every process and of the
machine). Beside the sampler, a thread follows the ``delivered`` topic (when each
log file arrived) and another reads each announced file from S3 as it arrives,
counting every (eventID, trail, account, region) and its latency: arrival minus
the emit time the eventID carries (:func:`loadtest.traffic.emitted_at`).

It also drives the offered rate: a fixed rate for a duration, or the steps of
``--find-capacity`` (:mod:`loadtest.capacity`). When sending is over it waits for
the pipeline to drain, lists S3 for any file no manifest announced, and compares
what arrived with the exact sets the generators wrote. Results go to files in the
work directory for the parent to report.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import math
import os
import queue
import re
import sys
import threading
import time
import urllib.request
from array import array
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import boto3
import orjson
from aiokafka import AIOKafkaConsumer

from loadtest import capacity, cpu
from loadtest.generator import Shared, read_expected
from loadtest.report import percentile, sample_gaps
from loadtest.traffic import emitted_at
from loadtest.trails import delivery_key, log_bucket
from recorder.settings import Settings

READERS = 4  # threads reading log files back from S3
_IDLE_PAUSE = 0.2  # seconds between polls of `delivered` while nothing arrives
_LAG = re.compile(
    r'^recorder_consumer_lag_records\{partition="(\d+)",stage="(\w+)"\} ([0-9.e+]+)$', re.M
)
#: gauges the samples carry, summed over a process's labels
GAUGES = {
    "recorder_writer_uncommitted_records": "writer_uncommitted",
    "recorder_writer_parked_events": "parked_events",
}
_GAUGE = re.compile(r"^(" + "|".join(GAUGES) + r")(?:\{[^}]*\})? ([0-9.e+-]+)$", re.M)


@dataclass
class CheckerConfig:
    settings: Settings
    buckets: dict[str, str]  # bucket -> trail ARN
    workdir: Path
    generators: int
    recorder_ports: dict[str, int]  # process name -> metrics port
    cpu_groups: dict[str, list[int]]  # process name -> pids (recorder, generators, ...)
    recorder_names: list[str]
    harness_names: list[str]
    rate: float = 2000.0
    duration: float = 60.0
    plan: capacity.Plan | None = None  # set: --find-capacity
    interval: float = 1.0
    # seconds between scrapes of each recorder process's /metrics for the lag (each
    # costs the process about 1 ms of CPU; between scrapes the last value stands)
    lag_every: float = 1.0
    drain_timeout: float = 300.0
    idle_seconds: float = 0.0
    # --break-destination: these buckets are gone; --repair-at creates them again
    broken_buckets: list[str] = field(default_factory=list)
    repair_at: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def result_file(self) -> Path:
        return self.workdir / "checker.json"

    @property
    def latency_file(self) -> Path:
        return self.workdir / "latencies.bin"


def parse_metrics(text: str) -> dict[str, float]:
    """From a ``/metrics`` page: consumer lag per stage (``router_lag``, ...) and the
    writer's uncommitted records and parked events, each summed over its labels."""
    out: dict[str, float] = {}
    for _partition, stage, value in _LAG.findall(text):
        out[f"{stage}_lag"] = out.get(f"{stage}_lag", 0.0) + float(value)
    for name, value in _GAUGE.findall(text):
        out[GAUGES[name]] = out.get(GAUGES[name], 0.0) + float(value)
    return out


def scrape(port: int) -> dict[str, float]:
    """:func:`parse_metrics` of one recorder process (empty when it does not answer)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=0.5) as r:
            return parse_metrics(r.read().decode())
    except OSError:
        return {}


class Scraper:
    """Scrapes every recorder process's ``/metrics`` on its own thread, so a busy
    process that answers slowly never delays a sample: a sample takes the latest."""

    def __init__(self, ports: list[int], every: float) -> None:
        self.ports, self.every = ports, every
        self.latest: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while True:
            total: dict[str, float] = {}
            for port in self.ports:
                for k, v in scrape(port).items():
                    total[k] = total.get(k, 0.0) + v
            self.latest = total
            if self._stop.wait(self.every):
                return


class Latencies:
    """Each delivery's latency, findable by when its event was emitted."""

    def __init__(self, t0: float) -> None:
        self.t0 = t0
        self.all = array("d")
        self._by_second: dict[int, list[tuple[float, float]]] = {}

    def add(self, emitted: float, latency: float) -> None:
        self.all.append(latency)
        self._by_second.setdefault(int(emitted - self.t0), []).append((emitted, latency))

    def window(self, start: float, end: float) -> list[float]:
        """Latencies of deliveries emitted in [start, end) seconds since t0."""
        lo, hi = self.t0 + start, self.t0 + end
        return [
            latency
            for s in range(math.floor(start), math.ceil(end))
            for emitted, latency in self._by_second.get(s, ())
            if lo <= emitted < hi
        ]


class Delivered:
    """Follows ``delivered`` and reads every announced log file back from S3."""

    def __init__(self, settings: Settings, buckets: dict[str, str]) -> None:
        self.settings, self.buckets = settings, buckets
        self.s3 = boto3.client("s3", **settings.aws_client_kwargs())
        self.seen: Counter[int] = Counter()
        self.records = 0
        self.files = 0
        self.insights: Counter[str] = Counter()  # Insights events (not API events) by state
        self.skip: set[str] = set()  # buckets not to list (broken destinations)
        self.read: set[str] = set()
        self.latencies = Latencies(time.time())
        self._files: queue.Queue[tuple[str, str, float | None] | None] = queue.Queue()
        self._stop = threading.Event()
        self._follow = threading.Thread(target=lambda: asyncio.run(self._manifests()), daemon=True)
        # S3 reads wait on the network most of the time: several readers keep up
        # with the writer's files when moto answers slowly
        self._readers = [
            threading.Thread(target=self._read_loop, daemon=True) for _ in range(READERS)
        ]
        self._lock = threading.Lock()

    def start(self) -> None:
        self._follow.start()
        for r in self._readers:
            r.start()

    def caught_up(self) -> bool:
        """Every file announced so far has been read and counted."""
        return self._files.unfinished_tasks == 0

    def finish(self) -> None:
        """Stop following, read what was announced, then every file nobody announced."""
        self._stop.set()
        self._follow.join(10)
        for _ in self._readers:
            self._files.put(None)
        for r in self._readers:
            r.join()
        for bucket in self.buckets:
            if bucket in self.skip:
                continue
            for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                for obj in page.get("Contents", []):
                    if f"{bucket}/{obj['Key']}" not in self.read:
                        self._read_file(bucket, obj["Key"], None)

    async def _manifests(self) -> None:
        consumer = AIOKafkaConsumer(
            self.settings.topics.delivered,
            bootstrap_servers=self.settings.bootstrap_servers,
            group_id=None,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            while not self._stop.is_set():
                batch = await consumer.getmany(timeout_ms=20)
                now = time.time()
                if not batch:
                    # noida-db answers an empty fetch at once instead of waiting
                    # fetch_max_wait_ms, so an idle consumer asks ~800 times a second
                    # (~20 % of a core). Pausing between polls keeps the checker from
                    # taking that CPU from what it measures; arrival times stay
                    # within ~0.2 s.
                    parts = consumer.assignment()
                    consumer.pause(*parts)
                    await asyncio.sleep(_IDLE_PAUSE)
                    consumer.resume(*parts)
                    continue
                for msgs in batch.values():
                    for m in msgs:
                        if m.headers:
                            continue  # a digest window marker or a writer's cut mark
                        manifest = orjson.loads(m.value)
                        self._files.put((manifest["bucket"], manifest["key"], now))
        finally:
            await consumer.stop()

    def _read_loop(self) -> None:
        while True:
            item = self._files.get()
            try:
                if item is None:
                    return
                self._read_file(*item)
            finally:
                self._files.task_done()

    def _read_file(self, bucket: str, key: str, arrived: float | None) -> None:
        name = f"{bucket}/{key}"
        with self._lock:
            if name in self.read or bucket not in self.buckets:
                return
            self.read.add(name)
        trail = self.buckets[bucket]
        parts = key.split("/")  # AWSLogs/<acct>/CloudTrail/<region>/...
        if "CloudTrail-Insight" in parts:
            body = gzip.decompress(self.s3.get_object(Bucket=bucket, Key=key)["Body"].read())
            states = [r["insightDetails"]["state"] for r in orjson.loads(body)["Records"]]
            with self._lock:
                self.insights.update(states)
            return
        account, region = parts[1], parts[3]
        body = gzip.decompress(self.s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        records = orjson.loads(body)["Records"]
        keys = [(r["eventID"], delivery_key(r["eventID"], trail, account, region)) for r in records]
        with self._lock:
            for eid, k in keys:
                self.seen[k] += 1
                if arrived is not None:
                    emitted = emitted_at(eid)
                    self.latencies.add(emitted, arrived - emitted)
            self.files += 1
            self.records += len(records)


def run(cfg: CheckerConfig, shared: Shared) -> None:
    """The checker process's body: sample, steer, drain, check, write results."""
    cfg.cpu_groups["checker"] = [os.getpid()]
    # A saturated machine (a capacity step past what it holds) must not starve the
    # sampler. Every thread of this process goes first for a core (they are started
    # from this one and inherit its nice value): raising the sampler's alone would leave
    # it waiting for the GIL behind a reader thread that waits for a core. The readers
    # take about a tenth of a core, work the run needs done anyway; and a short GIL
    # switch interval lets the sampler in soon after it wakes.
    with contextlib.suppress(PermissionError):  # raising priority needs root
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), -10)
    sys.setswitchinterval(0.001)
    meter = cpu.CpuMeter(cfg.cpu_groups)
    ncores = cpu.cores()
    if cfg.idle_seconds:
        idle_before = meter.read(time.time())
        time.sleep(cfg.idle_seconds)
        idle = cpu.percent_of_core(idle_before, meter.read(time.time()))
    else:
        idle = {}
    delivered = Delivered(cfg.settings, cfg.buckets)  # its S3 client, before the clock
    delivered.skip = set(cfg.broken_buckets)
    repaired = not cfg.broken_buckets

    def expected_now() -> int:
        held = sum(v.value for v in shared.held) if repaired else 0
        return sum(v.value for v in shared.expected) + held

    waited = time.monotonic() + 120  # generators encode their records first
    while not all(r.value for r in shared.ready) and time.monotonic() < waited:
        time.sleep(0.05)
    t0 = time.time()
    delivered.latencies = Latencies(t0)
    delivered.start()
    plan = cfg.plan
    rates = plan.rates() if plan else [cfg.rate]
    step_i, step_start = 0, 0.0
    pending: list[dict[str, float]] = []
    steps: list[capacity.StepResult] = []
    step_cpu: list[dict[str, float]] = []  # each step's mean CPU per process: who was busy
    shared.rate.value = rates[0]
    sending = True
    send_end = math.inf
    samples: list[dict[str, float]] = []
    first = prev = meter.read(t0)
    last_sent = last_records = 0
    tick = 0
    scraper = Scraper(list(cfg.recorder_ports.values()), cfg.lag_every)
    scraper.start()
    drained_at = math.nan
    end_reason = ""
    while True:
        tick += 1
        target = t0 + tick * cfg.interval
        delay = target - time.time()
        if delay > 0:
            time.sleep(delay)
        now = time.time()
        t = now - t0
        reading = meter.read(now)
        pct = cpu.percent_of_core(prev, reading)
        if not repaired and cfg.repair_at is not None and t >= cfg.repair_at:
            for bucket in cfg.broken_buckets:
                log_bucket(delivered.s3, bucket)
            delivered.skip.clear()
            repaired = True
            sys.stderr.write(f"\nrepaired {len(cfg.broken_buckets)} broken destination(s)\n")
        sent = sum(v.value for v in shared.sent)
        expected = expected_now()
        records = delivered.records
        lag = scraper.latest
        dt = now - prev.at
        recorder_cpu = sum(pct[n] for n in cfg.recorder_names)
        harness_cpu = sum(pct[n] for n in cfg.harness_names if n in pct)
        sample = {
            "t": t,
            "dt": dt,
            "offered_rate": shared.rate.value if sending else 0.0,
            "sent_rate": (sent - last_sent) / dt,
            "delivered_rate": (records - last_records) / dt,
            "sent_total": float(sent),
            "expected_total": float(expected),
            "delivered_total": float(records),
            "router_lag": lag.get("router_lag", 0.0),
            "writer_lag": lag.get("writer_lag", 0.0),
            "cpu": recorder_cpu,
            "rss_mib": meter.rss_mib(cfg.recorder_names),
            "writer_rss_mib": meter.rss_mib(
                n for n in cfg.recorder_names if n.startswith("writer")
            ),
            "writer_uncommitted": lag.get("writer_uncommitted", 0.0),
            "parked_events": lag.get("parked_events", 0.0),
            "machine_busy": cpu.machine_percent(prev, reading),
            "recorder_share": recorder_cpu / ncores,
            "harness_share": harness_cpu / ncores,
            **{f"cpu.{n}": v for n, v in pct.items()},
        }
        samples.append(sample)
        prev, last_sent, last_records = reading, sent, records
        _progress(t, sample, cfg.plan is not None and sending, rates[min(step_i, len(rates) - 1)])

        # -- steer the offered rate ------------------------------------------------
        if sending and plan is None and t >= cfg.duration:
            sending, send_end, end_reason = False, t, "duration reached"
        if sending and plan is not None and t - step_start >= plan.step_seconds - 1e-6:
            warm = step_start + plan.warmup_seconds - 1e-6
            start = min((s["t"] for s in samples if s["t"] >= warm), default=t)
            pending.append({"rate": rates[step_i], "start": start, "end": t})
            step_i += 1
            step_start = t
            if step_i < len(rates):
                shared.rate.value = rates[step_i]
            else:
                sending, send_end, end_reason = False, t, "reached --max-rate"
        if plan is not None:
            while pending:
                w = pending[0]
                exp_w = _at(samples, w["end"], "expected_total") - _at(
                    samples, w["start"], "expected_total"
                )
                got = delivered.latencies.window(w["start"], w["end"])
                if not capacity.step_ready(
                    w["end"], t, int(exp_w), len(got), plan, delivered.caught_up()
                ):
                    break
                pending.pop(0)
                in_w = [s for s in samples if w["start"] <= s["t"] <= w["end"]]
                sent_w = _at(samples, w["end"], "sent_total") - _at(
                    samples, w["start"], "sent_total"
                )
                result = capacity.judge(
                    plan,
                    w["rate"],
                    sent_w / (w["end"] - w["start"]),
                    capacity.censored_latencies(got, int(exp_w)),
                    [s["t"] for s in in_w],
                    [s["router_lag"] + s["writer_lag"] for s in in_w],
                    max(0, int(exp_w) - len(got)),
                )
                steps.append(result)
                step_cpu.append(_cpu_shares(in_w))
                sys.stderr.write(
                    f"\nstep {result.rate:,.0f} events/s: {result.reason} "
                    f"(p50 {result.p50:,.1f} s, p99 {result.p99:,.1f} s)\n"
                )
                if not result.held:
                    pending.clear()
                    if sending:
                        sending, send_end, end_reason = False, t, result.reason
        if not sending and shared.rate.value:
            shared.rate.value = 0.0
            shared.stop.set()

        # -- drained? ----------------------------------------------------------------
        if not sending and not pending:
            done = all(
                (cfg.workdir / f"generator-{i}.expected").exists() for i in range(cfg.generators)
            )
            expected = expected_now()
            if done and delivered.records >= expected:
                drained_at = t
                break
            if t > send_end + cfg.drain_timeout:
                sys.stderr.write(f"\ndrain timeout: {delivered.records:,}/{expected:,} delivered\n")
                break
    final = meter.read(time.time())
    scraper.stop()
    sys.stderr.write("\nreading the remaining log files back from S3 ...\n")
    delivered.finish()
    expected_keys: set[int] = set()
    held_keys: set[int] = set()
    for i in range(cfg.generators):
        path = cfg.workdir / f"generator-{i}.expected"
        if path.exists():
            expected_keys.update(read_expected(path))
        held_path = path.with_suffix(".held")
        if held_path.exists():
            held_keys.update(read_expected(held_path))
    if repaired:
        expected_keys |= held_keys
    seen = delivered.seen
    missing = sum(1 for k in expected_keys if k not in seen)
    duplicated = sum(c - 1 for c in seen.values() if c > 1)
    unexpected = sum(c for k, c in seen.items() if k not in expected_keys)
    sent = sum(v.value for v in shared.sent)
    lat = delivered.latencies.all
    used = cpu.cpu_seconds(first, final)
    span = final.at - first.at
    gaps = sample_gaps([s["t"] for s in samples], cfg.interval)
    result = {
        "t0": t0,
        "sent": sent,
        "send_seconds": min(send_end, samples[-1]["t"]),
        "drained_seconds": drained_at,
        "end_reason": end_reason,
        "expected": len(expected_keys),
        "delivered": delivered.records,
        "files": delivered.files,
        "insights": dict(delivered.insights),
        "held deliveries": len(held_keys),
        "repaired": repaired,
        "burst sent": shared.burst_sent.value if shared.burst_sent is not None else 0,
        "missing": missing,
        "duplicated": duplicated,
        "unexpected": unexpected,
        "latency": {q: percentile(lat, q) if len(lat) else math.nan for q in (50, 90, 99)}
        | {"max": max(lat, default=math.nan), "mean": sum(lat) / len(lat) if lat else math.nan},
        "cpu_seconds": used,
        "cpu_span": span,
        "machine_busy": cpu.machine_percent(first, final),
        "idle_percent": idle,
        "cores": ncores,
        "samples": samples,
        "gaps": gaps,
        "max_sample_interval": max((s["dt"] for s in samples), default=0.0),
        "steps": [{**asdict(s), **c} for s, c in zip(steps, step_cpu, strict=True)],
        "held": asdict(h) if (h := capacity.highest_held(steps)) else None,
        **cfg.extra,
    }
    cfg.result_file.write_text(json.dumps(result, default=_json_default))
    with cfg.latency_file.open("wb") as f:
        lat.tofile(f)


def _cpu_shares(samples: list[dict[str, float]]) -> dict[str, float]:
    """Mean % of one core each process took over a step's samples, and how busy the
    machine was: whether the recorder, the broker or the harness ran out of cores."""
    if not samples:
        return {}
    keys = sorted({k for s in samples for k in s if k.startswith("cpu.")})
    out = {"machine %": round(sum(s["machine_busy"] for s in samples) / len(samples), 1)}
    for k in keys:
        out[f"{k[4:]} %"] = round(sum(s.get(k, 0.0) for s in samples) / len(samples), 1)
    return out


def _at(samples: list[dict[str, float]], t: float, key: str) -> float:
    """A series' value at the sample taken at (or just before) ``t``; 0 before any."""
    value = 0.0
    for s in samples:
        if s["t"] > t + 1e-6:
            break
        value = s[key]
    return value


def _json_default(o: object) -> object:
    return str(o)


def _progress(t: float, s: dict[str, float], stepping: bool, rate: float) -> None:
    step = f" step {rate:>7,.0f}/s" if stepping else ""
    sys.stderr.write(
        f"\r{t:6.0f}s{step}  sent {s['sent_total']:>10,.0f}  delivered {s['delivered_total']:>10,.0f}"
        f"  lag {s['router_lag']:>7,.0f}/{s['writer_lag']:>7,.0f}  recorder CPU {s['cpu']:4.0f}%"
        f"  machine {s['machine_busy']:3.0f}%   "
    )
    sys.stderr.flush()
