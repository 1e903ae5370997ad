"""Crash harness: prove that every matched event lands exactly once, whatever dies.

    python -m loadtest.crash --events 20000 --kills 10 [--s3-error-rate 0.1] [--seed 7]

Runs the real stack (noida-db broker + moto behind a fault-injecting proxy), the
router and the writer as separate ``recorder run`` processes, and produces N events
with known eventIDs across several trails (``loadtest.traffic``: management, S3
data events incl. a bucket owned by another account, KMS exclusion, a
global-service event, SSE-KMS, SNS).
Meanwhile it SIGKILLs the router or the writer at random moments M times and
restarts it, and restarts the broker once. One trail's bucket is missing while all
this goes on (the broken-destination phase: its batches are parked on
``routed-retry`` through the kills and the broker restart) and is created again
once the chaos ends. Then it reads every object back from S3
and checks each expected (eventID, trail, account, region) - what the pure routing
engine says - is present exactly once, and that nothing unexpected is there.
Prints a JSON report; exit status 0 only for 0 lost, 0 duplicated, 0 unexpected.

``--via hook`` drives the real producer path instead of writing records to Kafka: an
application process (``loadtest.hooked``) makes ``--events`` real boto3 calls to moto
through recorder's hook, its identity looked up on the local stack's STS (credentials
from ``AssumeRole`` into the first account), its sink signing, journaling through the
broker restart and replaying; what must be delivered is what the pure engine says of
the records the hook made.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from loadtest.harness import RETENTION_MARGIN
from loadtest.procs import RecorderProcess
from loadtest.traffic import TrafficMix, account_ids, trail_set
from loadtest.trails import install_trails, log_bucket, notice_topic, trail_key
from recorder.events import encode
from recorder.kafka import clients
from recorder.provenance.signature import Signer
from recorder.stack.local import LocalStack, add_retention_margin_argument
from recorder.stack.processes import free_port, port_open, stop_group

#: The bucket the hooked application's S3 data calls name (the trail set's data
#: selectors log writes to it).
HOOKED_BUCKET = "shared-bucket"


@dataclass
class Report:
    events: int
    expected_deliveries: int
    delivered_records: int
    files: int
    kills: int
    broker_restarts: int
    s3_faults: dict[str, int]
    broken_bucket: str | None
    lost: int
    duplicated: int
    unexpected: int
    wall_seconds: float

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.duplicated == 0 and self.unexpected == 0


def read_all(s3: Any, buckets: dict[str, str]) -> tuple[Counter[tuple[str, str, str, str]], int]:
    seen: Counter[tuple[str, str, str, str]] = Counter()
    files = 0
    for bucket, trail_arn in buckets.items():
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for obj in page.get("Contents", []):
                key = obj["Key"]
                parts = key.split("/")  # AWSLogs/<acct>/CloudTrail/<region>/...
                account, region = parts[1], parts[3]
                body = gzip.decompress(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
                files += 1
                for r in json.loads(body)["Records"]:
                    seen[(r["eventID"], trail_arn, account, region)] += 1
    return seen, files


async def produce(stack: LocalStack, events: list[dict[str, Any]], rate: float) -> None:
    """Send every event at least once. After a broker restart the idempotent
    producer's state is gone, so a failed chunk is resent by a new producer; the
    repeats this creates are what the router's eventID window must drop."""
    producer = None
    chunk = 500
    signer = Signer(stack.settings().producer_key())  # signed like every producer's
    records = [(e["recipientAccountId"].encode(), encode(e)) for e in events]
    try:
        for i in range(0, len(events), chunk):
            while True:
                try:
                    if producer is None:
                        producer = clients.producer(stack.settings(), enable_idempotence=True)
                        await producer.start()
                    futures = [
                        await producer.send("api-events", v, key=k, headers=signer.headers(k, v))
                        for k, v in records[i : i + chunk]
                    ]
                    await asyncio.gather(*futures)
                    break
                except Exception as exc:  # broker restarting: new producer, same chunk
                    print(f"  produce retry: {exc!r}", file=sys.stderr)
                    if producer is not None:
                        with contextlib.suppress(Exception):
                            await asyncio.wait_for(producer.stop(), 5)
                    producer = None
                    await asyncio.sleep(1)
            await asyncio.sleep(chunk / rate)
    finally:
        if producer is not None:
            await producer.stop()


async def hooked_traffic(
    stack: LocalStack, work: Path, s3: Any, account: str, calls: int, rate: float
) -> None:
    """``loadtest.hooked`` as the application: ``calls`` boto3 calls through the hook in
    ``account`` (AssumeRole on moto's STS), at ``rate`` calls/s at most."""
    sts = boto3.client("sts", **stack.settings().aws_client_kwargs())
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/app", RoleSessionName="app")
    creds_file = work / "hooked-credentials.json"
    creds_file.write_text(
        json.dumps({k: str(v) for k, v in creds["Credentials"].items() if k != "Expiration"})
    )
    s3.create_bucket(Bucket=HOOKED_BUCKET)
    app = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "loadtest.hooked",
        "--calls",
        str(calls),
        "--seconds",
        str(calls / rate),
        "--credentials",
        str(creds_file),
        "--sts-url",
        stack.aws_endpoint_url,
        "--s3-url",
        stack.aws_endpoint_url,
        "--bucket",
        HOOKED_BUCKET,
        "--journal",
        str(work / "hooked-journal"),
        "--records",
        str(work / "hooked.jsonl"),
        env={**os.environ, **stack.environment()},
        stdout=asyncio.subprocess.PIPE,
    )
    assert app.stdout is not None
    async for line in app.stdout:
        print(f"  application: {line.decode().strip()}", file=sys.stderr)
    if await app.wait() != 0:
        raise RuntimeError("the hooked application did not send every record")


def run(
    stack: LocalStack,
    work: Path,
    *,
    events: int,
    kills: int,
    seed: int,
    s3_error_rate: float,
    rate: float = 2000.0,
    timeout: float = 600.0,
    broker_restart: bool = True,
    broken_destination: bool = True,
    via: str = "kafka",
) -> Report:
    rng = random.Random(seed)
    started = time.monotonic()
    kw = stack.settings().aws_client_kwargs()
    s3, kms, sns = boto3.client("s3", **kw), boto3.client("kms", **kw), boto3.client("sns", **kw)
    accounts = account_ids(3)
    key_arn = trail_key(kms, accounts, "crash harness")
    topic_arn = notice_topic(sns, "crash-notices")
    # five trails: one of each selector shape (management, S3 data on a bucket of
    # another account, KMS excluded, data events everywhere, single-region reads)
    trails = install_trails(
        s3, trail_set(accounts, 5, kms_key_arn=key_arn, topic_arn=topic_arn), work
    )
    buckets = trails.buckets
    # The broken-destination phase: the first trail (all management events, the
    # busiest) has no bucket until the chaos is over.
    broken = trails.specs[0]["S3BucketName"] if broken_destination else None
    if broken:
        s3.delete_bucket(Bucket=broken)

    proxy_port = free_port()
    proxy = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "loadtest.faultproxy",
            "--upstream",
            stack.aws_endpoint_url,
            "--port",
            str(proxy_port),
            "--error-rate",
            str(s3_error_rate),
            "--slow-rate",
            str(s3_error_rate / 2),
            "--slow-seconds",
            "1.5",
            "--seed",
            str(seed),
            "--stats-file",
            str(work / "proxy-stats.json"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=(work / "proxy.log").open("ab"),
        start_new_session=True,
    )
    while not port_open("127.0.0.1", proxy_port):
        time.sleep(0.05)
    env = {
        "RECORDER_TRAILS_FILE": str(trails.trails_file),
        "RECORDER_CUT_INTERVAL": "2",
        "RECORDER_AWS_ENDPOINT_URL": f"http://127.0.0.1:{proxy_port}",
        # parked batches retried every few seconds once their bucket is back
        "RECORDER_PARK_RETRY_BASE": "1",
        "RECORDER_PARK_RETRY_MAX": "5",
    }
    procs = {
        "router": RecorderProcess(stack, ["router"], work, env=env).start(),
        "writer": RecorderProcess(stack, ["writer"], work, env=env).start(),
    }
    if via == "hook":
        traffic = hooked_traffic(stack, work, s3, accounts[0], events, rate)
        evts: list[dict[str, Any]] = []
    else:
        mix = TrafficMix(accounts, seed=seed)
        evts = [mix.event() for _ in range(events)]
        traffic = produce(stack, evts, rate)

    async def chaos() -> tuple[int, int]:
        producing = asyncio.create_task(traffic)
        done_kills = restarts = 0
        restart_at = kills // 2 if broker_restart else -1
        for k in range(kills):
            await asyncio.sleep(rng.uniform(0.5, 3.0))
            if k == restart_at:
                print("  restarting the broker", file=sys.stderr)
                await asyncio.to_thread(stack.stop_broker)
                await asyncio.sleep(1)
                await asyncio.to_thread(stack.start_broker)
                restarts += 1
            name = rng.choice(["router", "writer"])
            print(f"  kill -9 {name} ({k + 1}/{kills})", file=sys.stderr)
            procs[name].kill()
            await asyncio.to_thread(procs[name].start)
            done_kills += 1
        await producing
        return done_kills, restarts

    try:
        done_kills, restarts = asyncio.run(chaos())
        if via == "hook":
            evts = [json.loads(line) for line in (work / "hooked.jsonl").read_text().splitlines()]
        expected = trails.expected_all(evts)
        if broken:
            print(f"  repairing the broken destination: bucket {broken}", file=sys.stderr)
            log_bucket(s3, broken)
        print(
            f"  produced {events} events; waiting for delivery of {len(expected)} ...",
            file=sys.stderr,
        )
        deadline = time.monotonic() + timeout
        seen: Counter[tuple[str, str, str, str]] = Counter()
        files = 0
        while time.monotonic() < deadline:
            seen, files = read_all(s3, buckets)
            missing = len(expected - set(seen))
            print(
                f"  {len(set(seen) & expected)}/{len(expected)} delivered in {files} files, {missing} missing",
                file=sys.stderr,
            )
            if not missing:
                break
            time.sleep(5)
        for p in procs.values():
            p.stop()
        seen, files = read_all(s3, buckets)
    finally:
        for p in procs.values():
            p.kill()
        stop_group(proxy.pid)
    stats = work / "proxy-stats.json"
    faults = json.loads(stats.read_text()) if stats.exists() else {}
    return Report(
        events=events,
        expected_deliveries=len(expected),
        delivered_records=sum(seen.values()),
        files=files,
        kills=done_kills,
        broker_restarts=restarts,
        s3_faults=faults,
        broken_bucket=broken,
        lost=len(expected - set(seen)),
        duplicated=sum(c - 1 for k, c in seen.items() if c > 1),
        unexpected=sum(c for k, c in seen.items() if k not in expected),
        wall_seconds=round(time.monotonic() - started, 1),
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument("--kills", type=int, default=10)
    ap.add_argument("--rate", type=float, default=2000.0, help="events/s produced")
    ap.add_argument("--s3-error-rate", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--timeout", type=float, default=900.0)
    ap.add_argument(
        "--via",
        choices=["kafka", "hook"],
        default="kafka",
        help="kafka: records written to api-events; hook: real boto3 calls through the hook",
    )
    add_retention_margin_argument(ap, RETENTION_MARGIN)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        stack = LocalStack(
            Path(tmp) / "stack",
            kafka_port=free_port(),
            moto_port=free_port(),
            retention_margin=args.retention_margin,
        )
        stack.start()
        try:
            report = run(
                stack,
                Path(tmp),
                events=args.events,
                kills=args.kills,
                seed=args.seed,
                s3_error_rate=args.s3_error_rate,
                rate=args.rate,
                timeout=args.timeout,
                via=args.via,
            )
        finally:
            stack.stop()
    print(json.dumps({**report.__dict__, "ok": report.ok}, indent=2))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
