"""Issue 26 acceptance: digest chains that move between digesters, on a broker that
rebalances a group (tansu; shared/LOCAL-STACK.md).

One process runs the control API, the router and the writer; two digester processes
share ``delivered`` in one consumer group (dynamic membership, the default). Four
trails with log file validation deliver to one versioned bucket while events flow
throughout. Both digesters take part; then one leaves (SIGTERM) in the middle of a
window, so the other takes every chain and continues it from ``digest-state``; then
it comes back and the chains move again. Afterwards the real ``aws cloudtrail
validate-logs`` finds every trail's digests and log files valid over the whole
period, no digest object was ever written twice (each key has one version), and
every log file is listed by exactly one digest.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import json
import os
import subprocess
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import pytest
from aiokafka.partitioner import DefaultPartitioner

from recorder.integrity.service import _chain_key
from recorder.policies import guide
from recorder.stack.local import LocalStack
from recorder.stack.processes import free_port
from recorder.trails.destination import Destination
from tests.integration.helpers import RecorderProcess, let_time_pass, wait_until
from tests.integration.test_integrity import aws_cli, event
from tests.integration.test_rebalance import Producing, assignments, log_events, tansu

pytestmark = [pytest.mark.integration]
__all__ = ["tansu"]  # the module's broker fixture

ACCOUNT = "123456789012"
BUCKET = "moving-logs"
INTERVAL = 6  # seconds per digest "hour"
RATE = 40.0  # events/s, all through the test


def trail_names(partitions: int) -> list[str]:
    """Four trails whose chains are spread over the partitions of ``delivered``."""
    partitioner = DefaultPartitioner()
    ps = list(range(partitions))
    by_partition: dict[int, str] = {}
    for i in range(200):
        name = f"moving{i}"
        arn = f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/{name}"
        p = int(partitioner(_chain_key(Destination(arn, ACCOUNT, "us-east-1")), ps, ps))
        by_partition.setdefault(p, name)
        if len(by_partition) == partitions:
            break
    return [by_partition[p] for p in sorted(by_partition)]


def conditional_puts_are_atomic(s3: Any) -> None:
    """The emulator refuses a second conditional put of a key, as S3 does, also when
    two race (plain moto checks and stores in two steps: recorder.stack.motoserve)."""
    s3.put_object(Bucket=BUCKET, Key="probe", Body=b"1", IfNoneMatch="*")
    with pytest.raises(s3.exceptions.ClientError, match="PreconditionFailed"):
        s3.put_object(Bucket=BUCKET, Key="probe", Body=b"2", IfNoneMatch="*")
    for i in range(30):
        won: list[int] = []

        def put(n: int, key: str = f"race/{i}", won: list[int] = won) -> None:
            with contextlib.suppress(s3.exceptions.ClientError):
                s3.put_object(Bucket=BUCKET, Key=key, Body=bytes([n]) * 100_000, IfNoneMatch="*")
                won.append(n)

        racers = [threading.Thread(target=put, args=(n,)) for n in range(2)]
        for t in racers:
            t.start()
        for t in racers:
            t.join()
        assert len(won) == 1, f"race {i}: {len(won)} conditional puts of one key succeeded"
        s3.delete_object(Bucket=BUCKET, Key=f"race/{i}")
    s3.delete_object(Bucket=BUCKET, Key="probe")


def digests(s3: Any) -> list[dict[str, Any]]:
    out = []
    prefix = f"AWSLogs/{ACCOUNT}/CloudTrail-Digest/"
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        for o in page.get("Contents", []):
            body = s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read()
            out.append(json.loads(gzip.decompress(body)))
    return out


def records_delivered(s3: Any) -> int:
    """Records in all log files (every event reaches every trail: 4 per event)."""
    total = 0
    for key in log_keys(s3):
        body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        total += len(json.loads(gzip.decompress(body))["Records"])
    return total


def log_keys(s3: Any) -> set[str]:
    prefix = f"AWSLogs/{ACCOUNT}/CloudTrail/"
    return {
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
        for o in page.get("Contents", [])
    }


def windows_closed(s3: Any, names: list[str], since: dt.datetime, n: int) -> bool:
    """Every trail has ``n`` digests ending after ``since``."""
    ends = Counter(
        d["digestS3Object"].rsplit("/", 1)[-1].split("_")[3]
        for d in digests(s3)
        if d["digestEndTime"] > since.strftime("%Y-%m-%dT%H:%M:%SZ")
    )
    return all(ends[name] >= n for name in names)


def test_chains_move_between_digesters_and_stay_valid(tansu: LocalStack, tmp_path: Path) -> None:
    s3 = boto3.client("s3", **tansu.settings().aws_client_kwargs())
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_policy(Bucket=BUCKET, Policy=guide.bucket_policy(BUCKET))
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    conditional_puts_are_atomic(s3)
    names = trail_names(tansu.partitions)
    trails = [
        {
            "Name": name,
            "TrailARN": f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/{name}",
            "HomeRegion": "us-east-1",
            "S3BucketName": BUCKET,
            "IsMultiRegionTrail": True,
            "LogFileValidationEnabled": True,
            "IsLogging": True,
        }
        for name in names
    ]
    (tmp_path / "trails.json").write_text(json.dumps(trails))
    api_port = free_port()
    env = {
        "RECORDER_TRAILS_FILE": str(tmp_path / "trails.json"),
        "RECORDER_API_PORT": str(api_port),
        "RECORDER_DIGEST_INTERVAL": str(INTERVAL),
        "RECORDER_CUT_INTERVAL": "2",
    }
    procs: list[RecorderProcess] = []

    def start(services: list[str], name: str) -> RecorderProcess:
        p = RecorderProcess(tansu, services, tmp_path / name, env=env).start()
        procs.append(p)
        return p

    try:
        start(["api", "router", "writer"], "main")
        a, b = start(["digester"], "a"), start(["digester"], "b")
        wait_until(lambda: log_events(a, "partition_assigned"), 60, message="a's partitions")
        wait_until(lambda: log_events(b, "partition_assigned"), 60, message="b's partitions")
        begin = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
        events = [event(i) for i in range(int(RATE * 120))]
        producing = Producing(tansu, events, RATE)
        wait_until(lambda: windows_closed(s3, names, begin, 2), 60, message="two windows")
        # a leaves in the middle of a window: b takes every chain
        before = assignments(b)
        mid = dt.datetime.now(dt.UTC)
        assert a.stop(timeout=60) == 0
        wait_until(lambda: assignments(b) > before, 60, message="b to take a's chains")
        wait_until(lambda: windows_closed(s3, names, mid, 2), 60, message="b's windows")
        # a comes back: the chains move again
        before = assignments(b)
        a.start()
        wait_until(lambda: assignments(b) > before, 60, message="the group to rebalance")
        back = dt.datetime.now(dt.UTC)
        wait_until(lambda: windows_closed(s3, names, back, 2), 60, message="windows after")
        assert not producing.done, "events stopped flowing before the end"
        producing.hurry()
        producing.join(timeout=60)

        def every_file_listed() -> bool:
            listed = {f["s3Object"] for d in digests(s3) for f in d["logFiles"]}
            return log_keys(s3) <= listed

        wait_until(
            lambda: records_delivered(s3) >= len(trails) * len(events),
            120,
            interval=3,
            message="every event delivered to every trail",
        )
        wait_until(every_file_listed, 90, interval=2, message="every log file in a digest")
        let_time_pass(INTERVAL, "one more window: nothing is listed twice later")
        # (validate-logs' own calls to the control API are recorded too: new files after)
        files = log_keys(s3)
        validate_all(tansu, trails, begin, api_port)
    finally:
        for p in procs:
            p.kill()
    # the chains really moved: some trail's digests were written by both digesters
    writers: dict[str, set[str]] = {}
    for who, p in (("a", a), ("b", b)):
        for record in log_events(p, "digest_delivered"):
            writers.setdefault(record["trail_arn"], set()).add(who)
    assert any(len(w) == 2 for w in writers.values()), writers
    # no digest object was ever overwritten: one version each
    versions = Counter()
    paginator = s3.get_paginator("list_object_versions")
    prefix = f"AWSLogs/{ACCOUNT}/CloudTrail-Digest/"
    for page in paginator.paginate(Bucket=BUCKET, Prefix=prefix):
        for v in page.get("Versions", []):
            versions[v["Key"]] += 1
        assert not page.get("DeleteMarkers")
    assert versions and set(versions.values()) == {1}, versions.most_common(3)
    # every log file in exactly one digest (hourly or backfill)
    listed = Counter(f["s3Object"] for d in digests(s3) for f in d["logFiles"])
    assert files <= set(listed), sorted(files - set(listed))[:3]
    assert set(listed.values()) == {1}, [k for k, n in listed.items() if n > 1][:3]


def validate_all(
    stack: LocalStack, trails: list[dict[str, Any]], begin: dt.datetime, api_port: int
) -> None:
    """The real CLI over the whole period, every trail: all valid."""
    cli_env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_S3": stack.aws_endpoint_url,
    }
    for t in trails:
        result = subprocess.run(
            [
                aws_cli(), "cloudtrail", "validate-logs", "--trail-arn", t["TrailARN"],
                "--s3-bucket", BUCKET, "--start-time", begin.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "--end-time",
                (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "--endpoint-url", f"http://127.0.0.1:{api_port}",
            ],
            env=cli_env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        print(t["Name"], result.stdout.strip().splitlines()[-3:])
        assert result.returncode == 0, result.stdout + result.stderr
        assert "INVALID" not in result.stdout + result.stderr
        assert "digest files valid" in result.stdout
