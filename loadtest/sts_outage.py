"""STS away while the application goes on: the hook's memory stays bounded, the journal
holds the backlog, and every event is delivered once STS is back.

    python -m loadtest.sts_outage --calls 100000 --outage 600

Runs the real stack (noida-db + moto), a router and a writer, one trail of account A
(management events), and an application in a process of its own: a boto3 S3 client
with the hook installed (``CallerIdentityResolver`` on moto's STS, behind a TCP gate;
credentials from ``AssumeRole`` into account A), its sink with ``--buffer`` events of
memory. The gate is closed (STS unreachable: connection refused) while the
application makes ``--calls`` real ``ListBuckets`` calls to moto, evenly over
``--outage`` seconds; then it is opened. The application samples its own RSS every
second; the harness reads every log file back and checks each call's record is in
A's trail exactly once, with the identity STS gives.

Prints a JSON report: RSS before, peak and after (MiB), records waiting in memory and
in the journal at the end of the outage, records sent before STS came back (0), the
seconds from STS's return to the last delivery, missing and duplicated.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import boto3

from loadtest.gate import Gate
from loadtest.procs import RecorderProcess
from loadtest.trails import log_bucket
from recorder.stack.local import LocalStack
from recorder.stack.processes import free_port

ACCOUNT = "111122223333"
BUCKET = "sts-outage-logs"
TRAIL = f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/sts-outage"


@dataclass
class Report:
    calls: int
    outage_seconds: float
    buffer: int
    rss_before_mib: float
    rss_peak_mib: float
    rss_after_mib: float
    waiting_in_memory: int
    waiting_in_journal: int
    journal_bytes: int
    sent_before_sts_returned: int
    delivery_seconds_after_sts: float
    delivered: int
    missing: int
    duplicated: int
    wrong_identity: int
    wall_seconds: float

    @property
    def ok(self) -> bool:
        return (
            self.missing == 0
            and self.duplicated == 0
            and self.wrong_identity == 0
            and self.sent_before_sts_returned == 0
            and self.waiting_in_memory <= self.buffer
        )


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


# -- the application: its own process, so its memory is its own ---------------------------
def app(args: argparse.Namespace) -> int:
    from recorder.producer import KafkaEventSink, install
    from recorder.producer.identity import CallerIdentityResolver
    from recorder.settings import Settings

    creds = json.loads(Path(args.credentials).read_text())
    settings = Settings.from_env()
    sink = KafkaEventSink.from_settings(
        settings, journal_dir=Path(args.journal), buffer_size=args.buffer
    )
    resolver = CallerIdentityResolver(endpoint_url=args.sts_url, retry_max=5.0)
    session = boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name="us-east-1",
    )
    ids: list[str] = []
    install(session, sink, resolver=resolver).on_record = lambda r: ids.append(r["eventID"])
    s3 = session.client("s3", endpoint_url=args.s3_url)
    peak = [_rss_mib()]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(1.0):
            peak[0] = max(peak[0], _rss_mib())

    threading.Thread(target=sample, daemon=True).start()
    before = _rss_mib()
    started = time.monotonic()
    for i in range(args.calls):
        due = started + args.seconds * i / args.calls
        if (pause := due - time.monotonic()) > 0:
            time.sleep(pause)
        s3.list_buckets()
        if (i + 1) % max(1, args.calls // 20) == 0:
            print(f"progress {i + 1}", flush=True)
    deadline = time.monotonic() + 30

    def taken_in() -> bool:
        """Every call waits in memory or in the journal (none in the sink's hands)."""
        return sink.awaiting.held + sink.awaiting.journal.records >= args.calls

    while not (sink._queue.qsize() == 0 and taken_in()) and time.monotonic() < deadline:
        time.sleep(0.05)
    state = {
        "waiting_in_memory": sink.awaiting.held,
        "waiting_in_journal": sink.awaiting.journal.records,
        "journal_bytes": sum(p.stat().st_size for p in sink.directory.path.glob("*.jsonl")),
        "sent": int(sink.metrics.producer_events.labels("sent")._value.get()),
        "rss_peak": max(peak[0], _rss_mib()),
    }
    print("outage-over " + json.dumps(state), flush=True)
    sys.stdin.readline()  # the harness opened the gate
    if not sink.flush(args.flush_timeout):
        print("flush timed out", file=sys.stderr)
    stop.set()
    Path(args.ids).write_text("\n".join(ids))
    result = {"rss_before": before, "rss_peak": max(peak[0], state["rss_peak"])}
    result["rss_after"] = _rss_mib()
    print("done " + json.dumps(result), flush=True)
    sink.close(timeout=5)
    return 0


# -- the harness -----------------------------------------------------------------------------
def assume_role(stack: LocalStack, account: str) -> dict[str, str]:
    sts = boto3.client("sts", **stack.settings().aws_client_kwargs())
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/app", RoleSessionName="app")
    return {k: str(v) for k, v in creds["Credentials"].items() if k != "Expiration"}


def read_trail(stack: LocalStack) -> tuple[Counter[str], int]:
    s3 = boto3.client("s3", **stack.settings().aws_client_kwargs())
    seen: Counter[str] = Counter()
    wrong = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for obj in page.get("Contents", []):
            if "/CloudTrail/" not in obj["Key"]:
                continue
            body = gzip.decompress(s3.get_object(Bucket=BUCKET, Key=obj["Key"])["Body"].read())
            for r in json.loads(body)["Records"]:
                seen[r["eventID"]] += 1
                if r["userIdentity"].get("arn") != f"arn:aws:sts::{ACCOUNT}:assumed-role/app/app":
                    wrong += 1
    return seen, wrong


def run(
    stack: LocalStack,
    work: Path,
    *,
    calls: int,
    outage: float,
    buffer: int,
    timeout: float = 600.0,
) -> Report:
    started = time.monotonic()
    s3 = boto3.client("s3", **stack.settings().aws_client_kwargs())
    log_bucket(s3, BUCKET)
    trails = work / "trails.json"
    trail = {
        "Name": "sts-outage",
        "TrailARN": TRAIL,
        "HomeRegion": "us-east-1",
        "S3BucketName": BUCKET,
        "IsMultiRegionTrail": True,
        "IncludeGlobalServiceEvents": True,
    }
    trails.write_text(json.dumps([trail]))
    recorder = RecorderProcess(
        stack, ["router", "writer"], work, env={"RECORDER_TRAILS_FILE": str(trails)}
    ).start()
    gate = Gate(stack.moto_port).start()
    gate.close()  # STS unreachable from here on
    creds = work / "credentials.json"
    creds.write_text(json.dumps(assume_role(stack, ACCOUNT)))
    ids_file = work / "ids.txt"
    env = {**os.environ, **stack.environment()}
    application = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "loadtest.sts_outage",
            "--app",
            "--calls",
            str(calls),
            "--seconds",
            str(outage),
            "--buffer",
            str(buffer),
            "--sts-url",
            gate.url,
            "--s3-url",
            stack.aws_endpoint_url,
            "--credentials",
            str(creds),
            "--journal",
            str(work / "journal"),
            "--ids",
            str(ids_file),
            "--flush-timeout",
            str(timeout),
        ],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert application.stdin is not None and application.stdout is not None
        state: dict[str, Any] = {}
        for line in application.stdout:
            if line.startswith("progress"):
                print(f"  {line.split()[1]}/{calls} calls, STS unreachable", file=sys.stderr)
            if line.startswith("outage-over "):
                state = json.loads(line.split(" ", 1)[1])
                break
        gate.open()
        back = time.monotonic()
        print(f"  STS back; {state}", file=sys.stderr)
        application.stdin.write("go\n")
        application.stdin.flush()
        result: dict[str, Any] = {}
        for line in application.stdout:
            if line.startswith("done "):
                result = json.loads(line.split(" ", 1)[1])
        application.wait(60)
        ids = set(ids_file.read_text().split()) if ids_file.exists() else set()
        deadline = time.monotonic() + timeout
        seen: Counter[str] = Counter()
        wrong = 0
        delivered_at = time.monotonic()
        while time.monotonic() < deadline:
            seen, wrong = read_trail(stack)
            missing = len(ids - set(seen))
            print(f"  {len(ids) - missing}/{len(ids)} delivered", file=sys.stderr)
            if not missing and len(ids) == calls:
                delivered_at = time.monotonic()
                break
            time.sleep(2)
    finally:
        application.kill()
        gate.stop()
        recorder.stop()
    return Report(
        calls=calls,
        outage_seconds=outage,
        buffer=buffer,
        rss_before_mib=round(result.get("rss_before", 0.0), 1),
        rss_peak_mib=round(result.get("rss_peak", 0.0), 1),
        rss_after_mib=round(result.get("rss_after", 0.0), 1),
        waiting_in_memory=int(state.get("waiting_in_memory", -1)),
        waiting_in_journal=int(state.get("waiting_in_journal", -1)),
        journal_bytes=int(state.get("journal_bytes", -1)),
        sent_before_sts_returned=int(state.get("sent", -1)),
        delivery_seconds_after_sts=round(delivered_at - back, 1),
        delivered=sum(1 for i in ids if seen[i]),
        missing=len(ids - set(seen)) + (calls - len(ids)),
        duplicated=sum(c - 1 for c in seen.values() if c > 1),
        wrong_identity=wrong,
        wall_seconds=round(time.monotonic() - started, 1),
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--calls", type=int, default=100_000)
    ap.add_argument("--outage", type=float, default=600.0, help="seconds STS is unreachable")
    ap.add_argument("--buffer", type=int, default=10_000, help="RECORDER_PRODUCER_BUFFER")
    ap.add_argument("--broker", choices=["noida", "tansu"], default="noida")
    ap.add_argument("--timeout", type=float, default=900.0)
    # the application's own process
    ap.add_argument("--app", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--seconds", type=float, default=0.0, help=argparse.SUPPRESS)
    ap.add_argument("--sts-url", help=argparse.SUPPRESS)
    ap.add_argument("--s3-url", help=argparse.SUPPRESS)
    ap.add_argument("--credentials", help=argparse.SUPPRESS)
    ap.add_argument("--journal", help=argparse.SUPPRESS)
    ap.add_argument("--ids", help=argparse.SUPPRESS)
    ap.add_argument("--flush-timeout", type=float, default=600.0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.app:
        return app(args)
    with tempfile.TemporaryDirectory(prefix="recorder-sts-outage-") as tmp:
        root = Path(tmp)
        stack = LocalStack(
            root / "stack",
            kafka_port=free_port(),
            moto_port=free_port(),
            broker_kind=args.broker,
        )
        stack.start()
        try:
            report = run(
                stack,
                root,
                calls=args.calls,
                outage=args.outage,
                buffer=args.buffer,
                timeout=args.timeout,
            )
        finally:
            stack.stop()
    print(json.dumps({**asdict(report), "ok": report.ok}, indent=2))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
