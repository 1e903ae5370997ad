"""Issue 12 item 7: signing-key rotation is safe with several digesters.

Two digesters share the work (static membership: partitions 0-1 and 2-3 of
``delivered``) and one key ring per region, with rotation shortened to seconds.
Both are restarted one after the other (a rolling update) while four trails'
chains, spread over both, keep getting digests. Afterwards the ring holds several
keys, digests were signed with more than one of them, every key that signed a
digest is listed by ListPublicKeys, and the real ``aws cloudtrail validate-logs``
validates every digest of every trail.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import boto3
import pytest
from aiokafka.partitioner import DefaultPartitioner

from recorder.events import encode
from recorder.integrity.service import _chain_key
from recorder.producer import KafkaEventSink
from recorder.stack.local import LocalStack
from recorder.stack.processes import free_port
from recorder.trails.destination import Destination
from tests.integration.helpers import RecorderProcess, aws, cloudtrail_bucket, every, wait_for
from tests.integration.test_integrity import aws_cli, event

pytestmark = pytest.mark.integration

ACCOUNT = "123456789012"
BUCKET = "rotation-logs"
INTERVAL = 4


def trail_of(digest: dict[str, Any]) -> str:
    """``<acct>_CloudTrail-Digest_<region>_<trail>_<region>_<time>.json.gz`` -> trail."""
    return str(digest["digestS3Object"].rsplit("/", 1)[-1].split("_")[3])


def trail_names(partitions: int) -> list[str]:
    """Four trail names whose us-east-1 chains land on both digesters' partitions."""
    partitioner = DefaultPartitioner()
    ps = list(range(partitions))
    low: list[str] = []
    high: list[str] = []
    for i in range(100):
        name = f"rot{i}"
        arn = f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/{name}"
        p = int(partitioner(_chain_key(Destination(arn, ACCOUNT, "us-east-1")), ps, ps))
        (low if p < partitions // 2 else high).append(name)
        if len(low) >= 2 and len(high) >= 2:
            return low[:2] + high[:2]
    raise AssertionError("no trail names spread over both halves")


def test_rolling_restart_of_two_digesters_rotating_the_key(
    stack: LocalStack, tmp_path_factory: pytest.TempPathFactory
) -> None:
    work: Path = tmp_path_factory.mktemp("rotation")
    assert stack.partitions == 4
    api_port = free_port()
    common = {
        "RECORDER_API_PORT": str(api_port),
        "RECORDER_DIGEST_INTERVAL": str(INTERVAL),
        "RECORDER_CUT_INTERVAL": "1",
        "RECORDER_GROUP_MEMBERSHIP": "static",
        "RECORDER_SIGNING_KEY_ROTATE_EVERY": "8",
        "RECORDER_SIGNING_KEY_LIFETIME": "600",
        "RECORDER_SIGNING_KEY_RELOAD": "2",
    }
    main = RecorderProcess(stack, ["api", "router", "writer"], work, env=common).start()

    def digester(partitions: str) -> RecorderProcess:
        env = {**common, "RECORDER_ASSIGNED_PARTITIONS": partitions}
        return RecorderProcess(stack, ["digester"], work / f"digester-{partitions}", env=env)

    low, high = digester("0,1").start(), digester("2,3").start()
    s3 = aws(stack, "s3")
    cloudtrail_bucket(s3, BUCKET)
    ct = boto3.client(
        "cloudtrail",
        endpoint_url=f"http://127.0.0.1:{api_port}",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    names = trail_names(stack.partitions)
    for name in names:
        ct.create_trail(Name=name, S3BucketName=BUCKET, EnableLogFileValidation=True)
        ct.start_logging(Name=name)
    start = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    sink = KafkaEventSink.from_settings(stack.settings(), journal_dir=work / "journal")
    n = 0

    def send(seconds: float) -> None:
        def emit() -> None:
            nonlocal n
            for _ in range(5):
                sink.emit(ACCOUNT.encode(), encode(event(n)))
                n += 1

        every(0.5, seconds, emit)

    def digests() -> list[dict[str, Any]]:
        out = []
        prefix = f"AWSLogs/{ACCOUNT}/CloudTrail-Digest/"
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
            for o in page.get("Contents", []):
                body = s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read()
                out.append(json.loads(gzip.decompress(body)))
        return out

    try:
        send(3 * INTERVAL)
        # Rolling update: each digester in turn is stopped and replaced.
        for i, old in enumerate((low, high)):
            assert old.stop() == 0
            send(2)
            replacement = digester("0,1" if i == 0 else "2,3").start()
            if i == 0:
                low = replacement
            else:
                high = replacement
            send(2 * INTERVAL)
        send(2 * INTERVAL)
        wait_for(
            lambda: {trail_of(d) for d in digests()} >= set(names),
            4 * INTERVAL,
            what="digests of every trail",
        )
    finally:
        sink.close()
        low.stop()
        high.stop()
    keys = s3.list_objects_v2(Bucket="recorder-digest-keys", Prefix="keys/us-east-1/")
    assert len(keys["Contents"]) >= 3, "the ring was rotated several times"
    used = {d["digestPublicKeyFingerprint"] for d in digests()}
    assert len(used) >= 2, "digests were signed by more than one key"
    listed = ct.list_public_keys(StartTime=start, EndTime=dt.datetime.now(dt.UTC))
    assert used <= {k["Fingerprint"] for k in listed["PublicKeyList"]}
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_S3": stack.aws_endpoint_url,
    }
    try:
        for name in names:
            per_trail = [d for d in digests() if trail_of(d) == name]
            result = subprocess.run(
                [
                    aws_cli(),
                    "cloudtrail",
                    "validate-logs",
                    "--trail-arn",
                    f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/{name}",
                    "--start-time",
                    start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "--endpoint-url",
                    f"http://127.0.0.1:{api_port}",
                ],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert result.returncode == 0, result.stdout + result.stderr
            assert "INVALID" not in result.stdout + result.stderr
            k = len(per_trail)
            assert f"{k}/{k} digest files valid" in result.stdout, result.stdout
    finally:
        main.stop()
