"""Issue 17 acceptance, on the real broker and moto with the real ``aws`` CLI.

One ``recorder run all`` process from an empty key store in the default key mode
(generated rings, no PEM): a trail with log file validation and SSE-KMS log files,
created and stopped/started with the ``aws`` CLI. In order:

1. at least three digest windows pass with no service restart, digests are SSE-S3
   while log files are SSE-KMS, and ``aws cloudtrail validate-logs`` says all valid;
2. StopLogging: the final digest lists the log files holding events up to and
   including the StopLogging event (files cut after the stop too); no digest for
   the stopped period; StartLogging starts a new chain; validate-logs accepts all;
3. two consecutive digests deleted: ``recorder validate`` reports both, and the
   real CLI's output for the same case is recorded.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from recorder.events import encode
from recorder.producer import KafkaEventSink
from recorder.stack.local import LocalStack
from recorder.stack.processes import free_port
from tests.integration.helpers import (
    RecorderProcess,
    aws,
    cloudtrail_bucket,
    cloudtrail_key_policy,
    every,
    holds_for,
    let_time_pass,
    wait_for,
)
from tests.integration.test_integrity import aws_cli, event

pytestmark = pytest.mark.integration

ACCOUNT = "123456789012"
BUCKET = "lifecycle-logs"
NAME = "lifecycle-trail"
ARN = f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/{NAME}"
INTERVAL = 6  # seconds per digest "hour"
CUT = 3  # the writer's cut interval: files of events just before a stop land after it
FINAL_WAIT = 6  # seconds the final digest waits for files cut after the stop
DIGESTS = f"AWSLogs/{ACCOUNT}/CloudTrail-Digest/us-east-1/"


def cli_env(stack: LocalStack) -> dict[str, str]:
    return {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_S3": stack.aws_endpoint_url,
    }


def cloudtrail_cli(ctx: dict[str, Any], *args: str) -> str:
    result = subprocess.run(
        [aws_cli(), "cloudtrail", *args, "--endpoint-url", ctx["endpoint"]],
        env=cli_env(ctx["stack"]),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def validate(ctx: dict[str, Any], *, ours: bool = False) -> subprocess.CompletedProcess[str]:
    args = [
        "--trail-arn",
        ARN,
        "--start-time",
        ctx["start"].strftime("%Y-%m-%dT%H:%M:%SZ"),
        "--end-time",
        (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "--endpoint-url",
        ctx["endpoint"],
    ]
    cmd = (
        [sys.executable, "-m", "recorder.cli", "validate", *args]
        if ours
        else [aws_cli(), "cloudtrail", "validate-logs", *args]
    )
    return subprocess.run(
        cmd, env=cli_env(ctx["stack"]), capture_output=True, text=True, timeout=120
    )


def digests(stack: LocalStack) -> list[dict[str, Any]]:
    """Every digest of the trail, oldest first, parsed."""
    s3 = aws(stack, "s3")
    out = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=DIGESTS):
        for o in page.get("Contents", []):
            body = gzip.decompress(s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read())
            out.append(json.loads(body))
    return sorted(out, key=lambda d: d["digestEndTime"])


def log_files(stack: LocalStack) -> dict[str, list[dict[str, Any]]]:
    s3 = aws(stack, "s3")
    out = {}
    prefix = f"AWSLogs/{ACCOUNT}/CloudTrail/"
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        for o in page.get("Contents", []):
            body = s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read()
            out[o["Key"]] = json.loads(gzip.decompress(body))["Records"]
    return out


class Traffic:
    """Events of the trail's account, sent through the producer's Kafka sink."""

    def __init__(self, stack: LocalStack, work: Path) -> None:
        self.sink = KafkaEventSink.from_settings(stack.settings(), journal_dir=work / "journal")
        self.n = 0

    def send(self, seconds: float, per_half_second: int = 5) -> None:
        def emit() -> None:
            for _ in range(per_half_second):
                self.sink.emit(ACCOUNT.encode(), encode(event(self.n)))
                self.n += 1

        every(0.5, seconds, emit)

    def close(self) -> None:
        self.sink.close()


@pytest.fixture(scope="module")
def ctx(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Any:
    work = tmp_path_factory.mktemp("lifecycle")
    api_port = free_port()
    env = {
        "RECORDER_API_PORT": str(api_port),
        "RECORDER_DIGEST_INTERVAL": str(INTERVAL),
        "RECORDER_DIGEST_FINAL_WAIT": str(FINAL_WAIT),
        "RECORDER_CUT_INTERVAL": str(CUT),
    }
    assert "RECORDER_SIGNING_KEY_FILE" not in os.environ  # the default key mode
    s3 = aws(stack, "s3")
    assert "recorder-digest-keys" not in {b["Name"] for b in s3.list_buckets()["Buckets"]}
    proc = RecorderProcess(stack, ["all"], work, env=env).start()
    # The region's ring is made when the digester starts, before any window closes.
    keys = s3.list_objects_v2(Bucket="recorder-digest-keys", Prefix="keys/us-east-1/")
    assert len(keys["Contents"]) == 1
    cloudtrail_bucket(s3, BUCKET)
    kms_key = aws(stack, "kms").create_key(
        Description="log files", Policy=cloudtrail_key_policy(ACCOUNT, [ACCOUNT])
    )["KeyMetadata"]["Arn"]
    c = {
        "stack": stack,
        "endpoint": f"http://127.0.0.1:{api_port}",
        "proc": proc,
        "kms_key": kms_key,
        "traffic": Traffic(stack, work),
        "start": dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5),
    }
    yield c
    c["traffic"].close()
    proc.stop()


def test_first_hours_from_an_empty_key_store(ctx: dict[str, Any]) -> None:
    stack, proc = ctx["stack"], ctx["proc"]
    cloudtrail_cli(
        ctx,
        "create-trail",
        "--name",
        NAME,
        "--s3-bucket-name",
        BUCKET,
        "--is-multi-region-trail",
        "--enable-log-file-validation",
        "--kms-key-id",
        ctx["kms_key"],
    )
    cloudtrail_cli(ctx, "start-logging", "--name", NAME)
    ctx["traffic"].send(3 * INTERVAL + 2)
    wait_for(lambda: len(digests(stack)) >= 3, 8 * INTERVAL, what="three digests")
    # The ring was made at start, before the first window closed: no restart.
    assert proc.metric("recorder_service_restarts_total") == 0
    assert "NoSigningKeyError" not in proc.log_text()
    s3 = aws(stack, "s3")
    for d in digests(stack):
        head = s3.head_object(Bucket=BUCKET, Key=d["digestS3Object"])
        assert head["ServerSideEncryption"] == "AES256", d["digestS3Object"]
    logs = log_files(stack)
    assert logs
    for key in logs:
        head = s3.head_object(Bucket=BUCKET, Key=key)
        assert head["ServerSideEncryption"] == "aws:kms", key
        assert head["SSEKMSKeyId"].endswith(ctx["kms_key"].split("/")[-1])
    result = validate(ctx)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "INVALID" not in result.stdout + result.stderr
    assert "digest files valid" in result.stdout


def test_stop_logging_ends_the_chain_and_start_logging_begins_a_new_one(
    ctx: dict[str, Any],
) -> None:
    stack, proc, traffic = ctx["stack"], ctx["proc"], ctx["traffic"]
    sender = threading.Thread(target=traffic.send, args=(5,))
    sender.start()  # events right up to the stop: the writer cuts their files after it
    let_time_pass(2, "events flow before the stop")
    cloudtrail_cli(ctx, "stop-logging", "--name", NAME)
    sender.join()
    status = json.loads(cloudtrail_cli(ctx, "get-trail-status", "--name", NAME))
    stopped_at = dt.datetime.fromtimestamp(float(status["StopLoggingTime"]), dt.UTC)

    def final() -> dict[str, Any] | None:
        """The digest the digester logged as final (``digest_delivered``, final true)."""
        for line in proc.log_text().splitlines():
            if '"digest_delivered"' in line and '"final": true' in line.replace(
                '":true', '": true'
            ):
                key = json.loads(line)["key"]
                return next((d for d in digests(stack) if d["digestS3Object"] == key), None)
        return None

    last = wait_for(final, FINAL_WAIT + 4 * INTERVAL, what="the final digest")
    assert last is digests(stack)[-1] or last == digests(stack)[-1]  # nothing after it
    assert last["digestEndTime"] >= stopped_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert last["previousDigestSignature"] is not None  # it ends the chain it belongs to
    in_final = {f["s3Object"] for f in last["logFiles"]}
    logs = log_files(stack)
    s3 = aws(stack, "s3")
    cut_after_stop = {
        k
        for k in logs
        # LastModified has whole seconds, truncated: a file cut in the stop's own second
        # (the one holding the StopLogging event, at least) counts as cut after it
        if s3.head_object(Bucket=BUCKET, Key=k)["LastModified"] >= stopped_at.replace(microsecond=0)
    }
    assert cut_after_stop, "some files were cut after the stop"
    assert cut_after_stop <= in_final  # listed by the final digest, not a new chain
    # The StopLogging call itself is recorded (a trail keeps its events up to and
    # including its StopLogging), in a file the final digest lists.
    stop_files = {
        k for k, records in logs.items() if any(r["eventName"] == "StopLogging" for r in records)
    }
    assert stop_files, "the StopLogging event is in a log file"
    assert stop_files <= in_final
    # Every delivered log file is in a digest: none started a chain after the stop.
    listed = {f["s3Object"] for d in digests(stack) for f in d["logFiles"]}
    assert set(logs) <= listed, sorted(set(logs) - listed)
    # No digest for the stopped period: two more windows pass, nothing new.
    count = len(digests(stack))
    holds_for(lambda: len(digests(stack)) == count, 2 * INTERVAL + 2, message="no new digest")
    assert len(digests(stack)) == count
    assert proc.metric("recorder_digester_late_log_files_total") == 0
    cloudtrail_cli(ctx, "start-logging", "--name", NAME)
    restarted_at = dt.datetime.now(dt.UTC)
    traffic.send(INTERVAL + 2)

    def restarted() -> list[dict[str, Any]]:
        return [
            d
            for d in digests(stack)
            if d["digestStartTime"] >= restarted_at.strftime("%Y-%m-%dT%H:%M:%SZ")
            or d["digestEndTime"] > restarted_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        ]

    new = wait_for(lambda: len(r := restarted()) >= 2 and r, 6 * INTERVAL, what="the new chain")
    assert new[0]["previousDigestSignature"] is None  # a starting digest
    assert new[1]["previousDigestS3Object"] == new[0]["digestS3Object"]
    # Exactly one starting digest since the first: the one after StartLogging.
    starts = [d for d in digests(stack) if d["previousDigestSignature"] is None]
    assert [d["digestS3Object"] for d in starts][1:] == [new[0]["digestS3Object"]]
    result = validate(ctx)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "INVALID" not in result.stdout + result.stderr
    assert proc.metric("recorder_service_restarts_total") == 0


def test_two_consecutive_deleted_digests_are_reported(ctx: dict[str, Any]) -> None:
    stack = ctx["stack"]

    def linked_run() -> tuple[list[dict[str, Any]], int] | None:
        """Two digests in the middle of a chain segment, linked on both sides."""
        ds = digests(stack)
        keys = {d["digestS3Object"] for d in ds}
        for i in range(1, len(ds) - 3):
            a, b, after = ds[i], ds[i + 1], ds[i + 2]
            if (
                a.get("previousDigestS3Object") in keys
                and b.get("previousDigestS3Object") == a["digestS3Object"]
                and after.get("previousDigestS3Object") == b["digestS3Object"]
                and ds[i + 3].get("previousDigestS3Object") == after["digestS3Object"]
            ):
                return ds, i
        return None

    # The tests before leave a chain of a few digests; on a fast machine it may be too
    # short, so the running chain gets more windows of traffic until it is long enough.
    for _ in range(8):
        if (found := linked_run()) is not None:
            break
        ctx["traffic"].send(INTERVAL)
    else:
        pytest.fail("no two linked digests in the middle of a chain")
    ds, i = found
    by_key = {d["digestS3Object"]: d for d in ds}
    a, b = ds[i], ds[i + 1]
    s3 = aws(stack, "s3")
    s3.delete_object(Bucket=BUCKET, Key=a["digestS3Object"])
    s3.delete_object(Bucket=BUCKET, Key=b["digestS3Object"])
    cli = validate(ctx)
    ours = validate(ctx, ours=True)
    print("aws cloudtrail validate-logs, two consecutive digests deleted:")
    print(cli.stdout + cli.stderr)
    print("recorder validate:")
    print(ours.stdout + ours.stderr)
    assert ours.returncode == 1
    assert f"s3://{BUCKET}/{b['digestS3Object']}\tINVALID: not found" in ours.stderr
    older = by_key[a["previousDigestS3Object"]]
    assert (
        f"INVALID: 2 consecutive digests not found between {older['digestEndTime']}"
        f" and {b['digestEndTime']}" in ours.stderr
    )
    # The real CLI names only the digest the newer one links to (aws-cli issue 7054).
    assert cli.returncode == 1
    assert f"s3://{BUCKET}/{b['digestS3Object']}\tINVALID: not found" in cli.stderr
    assert a["digestS3Object"] not in cli.stdout + cli.stderr
