"""Issues 17 and 26 acceptance, on the real broker and moto with the real ``aws`` CLI.

One ``recorder run all`` process from an empty key store in the default key mode
(generated rings, no PEM): a trail with log file validation and SSE-KMS log files,
created and stopped/started with the ``aws`` CLI, files cut every 5 s and the final
digest's wait left at its default (600 s: now only an upper bound). In order:

1. at least three digest windows pass with no service restart, digests are SSE-S3
   while log files are SSE-KMS, and ``aws cloudtrail validate-logs`` says all valid;
2. StopLogging, StartLogging 20 s later, StopLogging again: each final digest lands
   within 30 s of its StopLogging (judged from the writers' cut watermarks) and lists
   the log files holding events up to and including the StopLogging event (files
   cut after the stop too); no digest covers either stopped period; validate-logs
   accepts all and shows the gap;
3. a log file held back (its bucket refuses it, so it is parked) past its window's
   digest is covered by a backfill digest, which validate-logs accepts;
4. the Merkle log: an inclusion proof verifies offline with the public key; two log
   files swapped between windows, then two consecutive digests deleted, are named by
   ``recorder verify`` while validate-logs only says the originals are gone, and
   names one of the two digests (aws-cli issue 7054); ``recorder validate`` names both.
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

import boto3
import pytest

from recorder.events import encode
from recorder.policies import guide
from recorder.producer import KafkaEventSink
from recorder.stack.local import LocalStack
from recorder.stack.processes import free_port
from tests.integration.helpers import (
    RecorderProcess,
    aws,
    cloudtrail_bucket,
    cloudtrail_key_policy,
    every,
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
CUT = 5  # the writer's cut interval: files of events just before a stop land after it
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


def digests(stack: LocalStack, *, backfill: bool = False) -> list[dict[str, Any]]:
    """Every (hourly, or backfill) digest of the trail, oldest first, parsed."""
    s3 = aws(stack, "s3")
    out = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=DIGESTS):
        for o in page.get("Contents", []):
            if o["Key"].endswith("_backfill.json.gz") != backfill:
                continue
            body = gzip.decompress(s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read())
            out.append(json.loads(body))
    return sorted(out, key=lambda d: d["digestEndTime"])


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def delivered_at(proc: RecorderProcess, key: str) -> dt.datetime:
    """When the digester logged the digest delivered (``digest_delivered``)."""
    for line in proc.log_text().splitlines():
        if '"digest_delivered"' in line and key in line:
            return at(json.loads(line)["timestamp"])
    raise AssertionError(f"no digest_delivered for {key}")


def final_after(proc: RecorderProcess, stack: LocalStack, stop: dt.datetime) -> Any:
    """The final digest (``digest_delivered`` with final true) ending at the stop."""
    for line in proc.log_text().splitlines():
        if '"digest_delivered"' not in line:
            continue
        record = json.loads(line)
        if record.get("final") and at(record["end"]) >= stop.replace(microsecond=0):
            return next((d for d in digests(stack) if d["digestS3Object"] == record["key"]), None)
    return None


def status_time(ctx: dict[str, Any], name: str) -> dt.datetime:
    status = json.loads(cloudtrail_cli(ctx, "get-trail-status", "--name", NAME))
    return dt.datetime.fromtimestamp(float(status[name]), dt.UTC)


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
        "RECORDER_CUT_INTERVAL": str(CUT),
        # a bucket that starts refusing the writer is noticed within a second, and a
        # parked file is retried every second or two (test 3)
        "RECORDER_GRANT_RECHECK_INTERVAL": "1",
        "RECORDER_PARK_RETRY_BASE": "1",
        "RECORDER_PARK_RETRY_MAX": "2",
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


def check_final(ctx: dict[str, Any], stopped_at: dt.datetime) -> dict[str, Any]:
    """The final digest after a StopLogging: within 30 s, listing the files holding
    events up to the stop (those cut after it too), nothing after it."""
    stack, proc = ctx["stack"], ctx["proc"]
    last = wait_for(lambda: final_after(proc, stack, stopped_at), 60, what="the final digest")
    waited = (delivered_at(proc, last["digestS3Object"]) - stopped_at).total_seconds()
    print(f"final digest delivered {waited:.1f} s after StopLogging (cut interval {CUT} s)")
    assert waited <= 30, f"the final digest took {waited:.1f} s"
    assert last == digests(stack)[-1]  # nothing after it
    assert last["digestEndTime"] == stopped_at.strftime("%Y-%m-%dT%H:%M:%SZ")
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
    stops = {
        k
        for k, records in logs.items()
        if k in cut_after_stop and any(r["eventName"] == "StopLogging" for r in records)
    }
    assert stops, "the StopLogging event is in a log file cut after the stop"
    assert stops <= in_final
    # Every delivered log file is in a digest: none started a chain after the stop.
    listed = {f["s3Object"] for d in digests(stack) for f in d["logFiles"]}
    assert set(logs) <= listed, sorted(set(logs) - listed)
    return last


def test_stop_start_stop_final_digests_promptly_and_no_digest_covers_a_stopped_period(
    ctx: dict[str, Any],
) -> None:
    stack, proc, traffic = ctx["stack"], ctx["proc"], ctx["traffic"]
    sender = threading.Thread(target=traffic.send, args=(5,))
    sender.start()  # events right up to the stop: the writer cuts their files after it
    let_time_pass(2, "events flow before the stop")
    cloudtrail_cli(ctx, "stop-logging", "--name", NAME)
    sender.join()
    stop1 = status_time(ctx, "StopLoggingTime")
    first = check_final(ctx, stop1)
    let_time_pass(
        max(0.0, 20 - (dt.datetime.now(dt.UTC) - stop1).total_seconds()),
        "the trail stays stopped for 20 s",
    )
    cloudtrail_cli(ctx, "start-logging", "--name", NAME)
    start2 = status_time(ctx, "StartLoggingTime")
    sender = threading.Thread(target=traffic.send, args=(INTERVAL + 4,))
    sender.start()
    let_time_pass(INTERVAL + 2, "the new chain gets a digest or two")
    cloudtrail_cli(ctx, "stop-logging", "--name", NAME)
    sender.join()
    stop2 = status_time(ctx, "StopLoggingTime")
    second = check_final(ctx, stop2)
    # No digest covers either stopped period: the first chain ends at the first stop,
    # the second starts at the StartLogging and ends at the second stop.
    second_chain = [d for d in digests(stack) if at(d["digestEndTime"]) > stop1]
    assert second_chain[0]["previousDigestSignature"] is None  # a starting digest
    assert second_chain[0]["digestStartTime"] == start2.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert second_chain[-1] == second
    for d in digests(stack):
        start, end = at(d["digestStartTime"]), at(d["digestEndTime"])
        assert end <= stop1.replace(microsecond=0) or start >= start2.replace(microsecond=0), d
        assert end <= stop2.replace(microsecond=0) + dt.timedelta(seconds=1), d
    assert proc.metric("recorder_digester_late_log_files_total") == 0
    result = validate(ctx)
    print("aws cloudtrail validate-logs over stop/start/stop:")
    print(result.stdout + result.stderr)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "INVALID" not in result.stdout + result.stderr
    # the gap, as validate-logs shows one between two chains
    assert (
        "No log files were delivered by CloudTrail between "
        f"{first['digestEndTime']} and {second_chain[0]['digestStartTime']}" in result.stderr
    )
    cloudtrail_cli(ctx, "start-logging", "--name", NAME)  # the chain the next tests use
    assert proc.metric("recorder_service_restarts_total") == 0


def test_a_log_file_held_back_past_its_digest_gets_a_backfill_digest(ctx: dict[str, Any]) -> None:
    """The bucket refuses the writer for a while (its policy grants another path):
    the file cut meanwhile is parked, its window's digest closes without it (parked
    files do not hold the writers' watermark back), and once the bucket takes it
    again a backfill digest lists it, which the real validate-logs accepts."""
    stack, proc, traffic = ctx["stack"], ctx["proc"], ctx["traffic"]
    s3 = aws(stack, "s3")
    traffic.send(2)
    s3.put_bucket_policy(
        Bucket=BUCKET, Policy=guide.bucket_policy(BUCKET, f"arn:aws:s3:::{BUCKET}/elsewhere/*")
    )
    let_time_pass(1.5, "the writer re-reads the bucket's grants (every second)")
    parked_before = proc.metric("recorder_writer_parked_events")
    traffic.send(CUT + 1)
    wait_for(
        lambda: proc.metric("recorder_writer_parked_events") > parked_before,
        30,
        what="a parked log file",
    )
    held_since = dt.datetime.now(dt.UTC)
    wait_for(
        lambda: any(at(d["digestEndTime"]) >= held_since for d in digests(stack)),
        30,
        what="the window of the parked file closes without it",
    )
    s3.put_bucket_policy(Bucket=BUCKET, Policy=guide.bucket_policy(BUCKET))

    def every_file_in_a_digest() -> tuple[list[dict[str, Any]], set[str], list[str]] | None:
        # Files cut after the bucket takes the writer again (the rest of the traffic)
        # land before their own window's digest does: wait until each is in one.
        backfills = digests(stack, backfill=True)
        late = {f["s3Object"] for d in backfills for f in d["logFiles"]}
        regular = [f["s3Object"] for d in digests(stack) for f in d["logFiles"]]
        if backfills and set(log_files(stack)) <= late | set(regular):
            return backfills, late, regular
        return None

    backfills, late, regular = wait_for(
        every_file_in_a_digest, 60, what="a backfill digest, and every log file in a digest"
    )
    assert late and not late & set(regular)  # in the backfill digest only
    assert len(regular) == len(set(regular))  # and in one only
    head = s3.head_object(Bucket=BUCKET, Key=backfills[0]["digestS3Object"])
    assert head["Metadata"]["backfill-generation-timestamp"].endswith("Z")
    assert head["ServerSideEncryption"] == "AES256"
    result = validate(ctx)
    print("aws cloudtrail validate-logs with a backfill digest:")
    print(result.stdout + result.stderr)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "INVALID" not in result.stdout + result.stderr
    n = len(backfills)
    assert f"{n}/{n} backfill digest files valid" in result.stdout


def recorder(*args: str, stack: LocalStack) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "recorder.cli", *args, "--s3-endpoint-url", stack.aws_endpoint_url],
        env=cli_env(stack),
        capture_output=True,
        text=True,
        timeout=120,
    )


def log_public_key(stack: LocalStack) -> str:
    """The region's Merkle log key, as the operator publishes it."""
    obj = aws(stack, "s3").get_object(Bucket="recorder-digest-keys", Key="tlog/us-east-1.pub")
    return obj["Body"].read().decode().strip()


def test_an_inclusion_proof_verifies_offline_and_a_swap_between_windows_is_named(
    ctx: dict[str, Any], tmp_path: Path
) -> None:
    stack = ctx["stack"]
    s3 = aws(stack, "s3")
    key = log_public_key(stack)
    audit = ["verify", "--public-key", key, "--bucket", BUCKET, "--trail-arn", ARN]
    clean = recorder(*audit, stack=stack)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "0 problems found" in clean.stdout
    # an inclusion proof for one file, checked with the public key and the file only
    files = [f["s3Object"] for d in digests(stack) for f in d["logFiles"]]
    one = files[0]

    def minute(key: str) -> str:  # <acct>_CloudTrail_<region>_<YYYYMMDDTHHMMZ>_<unique>.json.gz
        return key.rsplit("_", 2)[-2]

    other = next(k for k in reversed(files) if minute(k) != minute(one))
    proved = recorder("prove", f"s3://{BUCKET}/{one}", stack=stack)
    assert proved.returncode == 0, proved.stderr
    (tmp_path / "proof.json").write_text(proved.stdout)
    local = tmp_path / "file.json.gz"
    local.write_bytes(s3.get_object(Bucket=BUCKET, Key=one)["Body"].read())
    offline = subprocess.run(
        [sys.executable, "-m", "recorder.cli", "verify", "--public-key", key,
         str(tmp_path / "proof.json"), "--file", str(local)],
        capture_output=True, text=True, timeout=60, env={"PATH": os.environ["PATH"]},
    )  # fmt: skip
    assert offline.returncode == 0, offline.stdout + offline.stderr
    assert f"s3://{BUCKET}/{one}\tvalid: entry " in offline.stdout
    # two files of different windows swapped: each under the other's time
    a_time, b_time = minute(one), minute(other)
    moved = {one: one.replace(a_time, b_time), other: other.replace(b_time, a_time)}
    bodies = {k: s3.get_object(Bucket=BUCKET, Key=k)["Body"].read() for k in moved}
    for old, new in moved.items():
        s3.put_object(Bucket=BUCKET, Key=new, Body=bodies[old])
        s3.delete_object(Bucket=BUCKET, Key=old)
    cli = validate(ctx)
    ours = recorder(*audit, stack=stack)
    print("aws cloudtrail validate-logs, two log files swapped between windows:")
    print(cli.stdout + cli.stderr)
    print("recorder verify:")
    print(ours.stdout + ours.stderr)
    # validate-logs: the two originals are not found; of where they went it says nothing
    assert cli.returncode == 1
    assert all(new not in cli.stdout + cli.stderr for new in moved.values())
    assert ours.returncode == 1
    for old, new in moved.items():
        assert f"s3://{BUCKET}/{old}\tINVALID: not found (log file, entry " in ours.stderr
        assert f"s3://{BUCKET}/{new}\tINVALID: not in the log: a copy of entry " in ours.stderr
        assert f"s3://{BUCKET}/{old}, delivered in the window of " in ours.stderr
    for old, new in moved.items():  # put them back
        s3.put_object(Bucket=BUCKET, Key=old, Body=bodies[old])
        s3.delete_object(Bucket=BUCKET, Key=new)
    assert recorder(*audit, stack=stack).returncode == 0


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
    # The Merkle log holds both digests: recorder verify names each.
    audit = recorder(
        "verify", "--public-key", log_public_key(stack), "--bucket", BUCKET, "--trail-arn", ARN,
        stack=stack,
    )  # fmt: skip
    print("recorder verify:")
    print(audit.stdout + audit.stderr)
    assert audit.returncode == 1
    for gone in (a, b):
        assert f"s3://{BUCKET}/{gone['digestS3Object']}\tINVALID: not found (digest, entry" in (
            audit.stderr
        )


BRIEF, BRIEF_BUCKET = "brief-trail", "brief-logs"


def test_a_trail_stopped_before_its_first_file_is_read_has_it_in_its_final_digest(
    ctx: dict[str, Any],
) -> None:
    """Started and stopped within one cut interval: the trail's only log file is cut,
    and read by the digester, after the stop, when the chain has no state and no file
    yet. The chain starts and ends with it: a final digest lists it (it was in none)."""
    stack = ctx["stack"]
    s3 = aws(stack, "s3")
    cloudtrail_bucket(s3, BRIEF_BUCKET)
    ct = boto3.client(
        "cloudtrail",
        endpoint_url=ctx["endpoint"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    arn = ct.create_trail(Name=BRIEF, S3BucketName=BRIEF_BUCKET, EnableLogFileValidation=True)[
        "TrailARN"
    ]
    begun = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    ct.start_logging(Name=BRIEF)
    ctx["traffic"].send(1)
    ct.stop_logging(Name=BRIEF)
    stopped = dt.datetime.now(dt.UTC)

    def files() -> list[str]:
        listing = s3.list_objects_v2(Bucket=BRIEF_BUCKET, Prefix=f"AWSLogs/{ACCOUNT}/CloudTrail/")
        return [o["Key"] for o in listing.get("Contents", [])]

    def brief_digests() -> list[dict[str, Any]]:
        prefix = f"AWSLogs/{ACCOUNT}/CloudTrail-Digest/"
        listing = s3.list_objects_v2(Bucket=BRIEF_BUCKET, Prefix=prefix)
        return [
            json.loads(
                gzip.decompress(s3.get_object(Bucket=BRIEF_BUCKET, Key=o["Key"])["Body"].read())
            )
            for o in listing.get("Contents", [])
        ]

    delivered = wait_for(files, 30, what="the brief trail's log file")
    first_cut = min(s3.head_object(Bucket=BRIEF_BUCKET, Key=k)["LastModified"] for k in delivered)
    assert first_cut >= stopped.replace(microsecond=0), "a file was cut before the stop"
    final = wait_for(
        lambda: [
            d for d in brief_digests() if set(files()) <= {f["s3Object"] for f in d["logFiles"]}
        ],
        60,
        what="a final digest listing the brief trail's files",
    )
    assert len(brief_digests()) == 1 and final[0]["previousDigestSignature"] is None
    result = subprocess.run(
        [
            aws_cli(), "cloudtrail", "validate-logs", "--trail-arn", arn,
            "--start-time", begun.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "--endpoint-url", ctx["endpoint"],
        ],
        env=cli_env(stack),
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    print(result.stdout + result.stderr)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1/1 digest files valid" in result.stdout
    n = len(files())
    assert f"{n}/{n} log files valid" in result.stdout
