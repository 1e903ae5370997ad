"""One load-test run: a private stack, N router and N writer processes, G generator
processes, one checker process; the parent only starts, waits and cleans up.

Shared by ``python -m loadtest`` (a fixed rate, or ``--find-capacity``) and
``python -m loadtest.scale`` (the same traffic over 1, 2 and 4 processes).
"""

from __future__ import annotations

import json
import math
import multiprocessing
import re
import sys
import time
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from loadtest import capacity, checker, cpu, floor, generator
from loadtest.burst import INSIGHTS_ENV, Burst
from loadtest.procs import RecorderProcess
from loadtest.traffic import account_ids, trail_set
from loadtest.trails import install_trails, notice_topic, trail_key
from recorder.stack.local import LocalStack
from recorder.stack.processes import free_port

_PARTITION = re.compile(r'^recorder_consumer_lag_records\{partition="(\d+)",stage="(\w+)"\} ', re.M)


#: Seconds the harnesses' broker keeps a record after every consumer group committed
#: past it (recorder.stack.retention): none. noida-db rewrites everything it holds on
#: each save, so what it keeps costs CPU on every save and stalls the broker while it
#: saves (a Kafka broker's retention costs nothing per record held): at 5,000 events/s,
#: 5 % of a core with nothing kept behind the commits (the trimmer's own CPU aside),
#: 18.5 % with 10 s kept, and a climb past 60 % within a minute with everything kept;
#: at 12,000 events/s a 5-s margin still kept 85 MB. What is kept behind a commit
#: serves only the dedupe recall of a router or writer that restarts: the load test
#: restarts nothing, and the crash harness, which kills every process and restarts
#: the broker, loses and duplicates nothing without it
#: (tests/crash/test_crash_retention.py). The local stack's own default is ten
#: minutes (recorder.stack.local.RETENTION_MARGIN).
RETENTION_MARGIN = 0.0


@dataclass
class Options:
    rate: float = 2000.0
    duration: float = 60.0
    accounts: int = 10
    trails: int = 20
    cut_interval: float = 5.0
    drain_timeout: float = 300.0
    seed: int = 7
    broker: str = "noida"  # or "tansu"
    processes: int = 1  # routers, and as many writers
    membership: str = ""  # static|dynamic; empty: what the broker supports
    generators: int = 0  # 0: as many as the rate needs
    per_generator: float = 4000.0  # events/s one generator is given at most
    plan: capacity.Plan | None = None  # --find-capacity
    floor_events: int = 0  # > 0: measure the broker's floor first
    idle_seconds: float = 0.0  # > 0: each process's idle CPU before traffic
    interval: float = 1.0
    lag_every: float = 1.0
    break_destination: int = 0  # delete this many trails' buckets before traffic
    repair_at: float | None = None  # ... and create them again this many seconds in
    burst: Burst | None = None  # one write API's rate raised, with the Insights stage
    recorder_env: dict[str, str] = field(default_factory=dict)
    #: noida-db's retention (recorder.stack.retention); None: keep every record
    retention_margin: float | None = RETENTION_MARGIN

    def generator_count(self) -> int:
        if self.generators:
            return self.generators
        top = self.plan.rates()[-1] if self.plan else self.rate
        return max(1, min(4, math.ceil(top / self.per_generator)))


@dataclass
class Outcome:
    result: dict[str, Any]
    latencies: array[float]
    floor: dict[str, float]
    load_before: str
    load_after: str


def static_partitions(partitions: int, processes: int, index: int) -> str:
    """The partitions process ``index`` of ``processes`` takes (round robin)."""
    return ",".join(str(p) for p in range(partitions) if p % processes == index)


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def start_recorder(
    stack: LocalStack, work: Path, env: dict[str, str], processes: int
) -> dict[str, RecorderProcess]:
    """N routers and N writers; static members split the partitions between them."""
    procs: dict[str, RecorderProcess] = {}
    membership = env.get("RECORDER_GROUP_MEMBERSHIP", stack.settings().group_membership)
    static = membership == "static"
    for role in ("router", "writer"):
        for i in range(processes):
            own = dict(env)
            if static and processes > 1:
                own["RECORDER_ASSIGNED_PARTITIONS"] = static_partitions(
                    stack.partitions, processes, i
                )
            procs[f"{role}-{i}"] = RecorderProcess(stack, [role], work / f"{role}-{i}", env=own)
    try:
        for p in procs.values():
            p.start()
    except BaseException:
        for p in procs.values():
            p.stop(10)
        raise
    return procs


def assignment_settled(reports: dict[str, set[str]], partitions: int) -> bool:
    """Every process reports a partition of its stage, and together they cover all."""
    if not reports or any(not parts for parts in reports.values()):
        return False
    union = set().union(*reports.values())
    return union == {str(p) for p in range(partitions)}


def wait_assigned(procs: dict[str, RecorderProcess], partitions: int, timeout: float) -> bool:
    """Dynamic membership: wait until the groups have settled (same answer 3 times)."""
    deadline = time.monotonic() + timeout
    last, same = None, 0
    while time.monotonic() < deadline:
        reports: dict[str, set[str]] = {}
        for name, p in procs.items():
            role = name.split("-")[0]
            try:
                text = p.metrics()
            except OSError:
                text = ""
            reports[name] = {part for part, stage in _PARTITION.findall(text) if stage == role}
        ok = all(
            assignment_settled({n: r for n, r in reports.items() if n.startswith(role)}, partitions)
            for role in ("router", "writer")
        )
        same = same + 1 if ok and reports == last else 0
        last = reports
        if same >= 2:
            return True
        time.sleep(1.0)
    return False


def run(opts: Options, work: Path) -> Outcome:
    load_before = loadavg()
    stack = LocalStack(
        work / "stack",
        kafka_port=free_port(),
        moto_port=free_port(),
        broker_kind=opts.broker,
        retention_margin=opts.retention_margin,
    )
    stack.start()
    procs: dict[str, RecorderProcess] = {}
    gens: list[Any] = []
    ctx = multiprocessing.get_context("spawn")
    shared = generator.Shared(
        rate=ctx.Value("d", 0.0, lock=False),  # type: ignore[arg-type]
        stop=ctx.Event(),
    )
    try:
        settings = stack.settings()
        kw = settings.aws_client_kwargs()
        s3, kms, sns = (boto3.client(n, **kw) for n in ("s3", "kms", "sns"))
        accounts = account_ids(opts.accounts)
        specs = trail_set(
            accounts,
            opts.trails,
            kms_key_arn=trail_key(kms, accounts, "load test"),
            topic_arn=notice_topic(sns, "load-notices"),
        )
        if opts.burst:
            Burst.enable_insights(specs)
        trails = install_trails(s3, specs, work)
        broken = [t["S3BucketName"] for t in specs[: opts.break_destination]]
        for bucket in broken:
            s3.delete_bucket(Bucket=bucket)
        floor_result: dict[str, float] = {}
        if opts.floor_events:
            sys.stderr.write(f"broker floor: {opts.floor_events:,} events produce -> consume ...\n")
            floor_result = floor.measure(settings, accounts, opts.floor_events)
        env = {
            "RECORDER_TRAILS_FILE": str(trails.trails_file),
            "RECORDER_CUT_INTERVAL": str(opts.cut_interval),
            **opts.recorder_env,
        }
        if opts.membership:
            env["RECORDER_GROUP_MEMBERSHIP"] = opts.membership
        membership = env.get("RECORDER_GROUP_MEMBERSHIP", settings.group_membership)
        sys.stderr.write(f"starting {opts.processes} router and writer process(es) ...\n")
        procs = start_recorder(stack, work, env, opts.processes)
        if opts.burst:
            procs["insights-0"] = RecorderProcess(
                stack, ["insights"], work / "insights-0", env={**env, **INSIGHTS_ENV}
            ).start()
        if membership == "dynamic" and not wait_assigned(procs, stack.partitions, 120):
            sys.stderr.write("warning: consumer groups did not settle in 120 s\n")
        count = opts.generator_count()
        for _ in range(count):
            shared.sent.append(ctx.Value("q", 0, lock=False))  # type: ignore[arg-type]
            shared.expected.append(ctx.Value("q", 0, lock=False))  # type: ignore[arg-type]
            shared.held.append(ctx.Value("q", 0, lock=False))  # type: ignore[arg-type]
            shared.ready.append(ctx.Value("q", 0, lock=False))  # type: ignore[arg-type]
        shared.burst_sent = ctx.Value("q", 0, lock=False)  # type: ignore[assignment]
        for i in range(count):
            cfg = generator.GeneratorConfig(
                i,
                count,
                settings,
                specs,
                accounts,
                opts.seed,
                work,
                plain_producer=opts.broker == "tansu",
                held_trails=frozenset(trails.buckets[b] for b in broken),
                burst=opts.burst if i == 0 else None,
            )
            g = ctx.Process(target=generator.run, args=(cfg, shared), name=f"generator-{i}")
            g.start()
            gens.append(g)
        groups: dict[str, list[int]] = {
            name: cpu.descendants(p.proc.pid) for name, p in procs.items() if p.proc
        }
        groups.update({f"generator-{i}": [g.pid] for i, g in enumerate(gens)})
        if stack.broker is not None:  # with its retention: a cost of this broker's
            groups["broker"] = cpu.descendants(stack.broker.pid)
            if stack.retention is not None and stack.retention.pid is not None:
                groups["broker"].append(stack.retention.pid)
        if stack.moto is not None:
            groups["moto"] = cpu.descendants(stack.moto.pid)
        ccfg = checker.CheckerConfig(
            settings=settings,
            buckets=trails.buckets,
            workdir=work,
            generators=count,
            recorder_ports={n: p.metrics_port for n, p in procs.items()},
            cpu_groups=groups,
            recorder_names=list(procs),
            harness_names=[*(f"generator-{i}" for i in range(count)), "checker"],
            rate=opts.rate,
            duration=opts.duration,
            plan=opts.plan,
            interval=opts.interval,
            lag_every=opts.lag_every,
            drain_timeout=opts.drain_timeout,
            idle_seconds=opts.idle_seconds,
            broken_buckets=broken,
            repair_at=opts.repair_at,
            extra={"membership": f"{opts.broker} / {membership}"},
        )
        check = ctx.Process(target=checker.run, args=(ccfg, shared), name="checker")
        check.start()
        check.join()
        if check.exitcode != 0:
            raise RuntimeError(f"checker exited {check.exitcode}")
        result = json.loads(ccfg.result_file.read_text())
        latencies = array("d")
        with ccfg.latency_file.open("rb") as f:
            latencies.frombytes(f.read())
        return Outcome(result, latencies, floor_result, load_before, loadavg())
    finally:
        shared.stop.set()
        for g in gens:
            g.join(90)
            if g.is_alive():
                g.kill()
        for p in procs.values():
            p.stop()
        stack.stop()
