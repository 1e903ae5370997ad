"""Issue 5 acceptance: the real `aws cloudtrail validate-logs` accepts our digest chain
(several short "hours", a digester kill -9 in the middle), and reports each of the
four tamperings the guide describes; `recorder validate` agrees line for line."""

from __future__ import annotations

import datetime as dt
import difflib
import gzip
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from recorder.events import encode
from recorder.producer import KafkaEventSink
from recorder.stack.local import LocalStack
from recorder.stack.processes import free_port
from tests.integration.helpers import RecorderProcess, aws, cloudtrail_bucket, every, wait_for

pytestmark = pytest.mark.integration

ACCOUNT = "123456789012"  # the control API's default credentials map here
BUCKET = "integrity-logs"
NAME = "integrity-trail"
ARN = f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/{NAME}"
INTERVAL = 6  # seconds per digest "hour"


def aws_cli() -> str:
    found = Path(sys.executable).with_name("aws")
    if found.exists():
        return str(found)
    path = shutil.which("aws")
    if path is None:
        pytest.skip("the AWS CLI is not installed (pip install awscli)")
    return path


def event(i: int) -> dict[str, Any]:
    return {
        "eventVersion": "1.05",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDA",
            "arn": f"arn:aws:iam::{ACCOUNT}:user/a",
            "accountId": ACCOUNT,
            "userName": "a",
        },
        "eventTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "eventSource": "ec2.amazonaws.com",
        "eventName": "RunInstances",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "192.0.2.1",
        "userAgent": "test",
        "requestParameters": {"i": i},
        "responseElements": None,
        "eventID": f"00000000-0000-4000-8000-{i:012d}",
        "eventType": "AwsApiCall",
        "recipientAccountId": ACCOUNT,
    }


@pytest.fixture(scope="module")
def chain(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Any:
    work = tmp_path_factory.mktemp("integrity")
    api_port = free_port()
    env = {
        "RECORDER_API_PORT": str(api_port),
        "RECORDER_DIGEST_INTERVAL": str(INTERVAL),
        "RECORDER_CUT_INTERVAL": "1",
    }
    main = RecorderProcess(stack, ["api", "router", "writer"], work, env=env).start()
    digester = RecorderProcess(stack, ["digester"], work, env=env).start()
    endpoint = f"http://127.0.0.1:{api_port}"
    cloudtrail_bucket(aws(stack, "s3"), BUCKET)
    ct = boto3.client(
        "cloudtrail",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    ct.create_trail(
        Name=NAME, S3BucketName=BUCKET, EnableLogFileValidation=True, IsMultiRegionTrail=True
    )
    ct.start_logging(Name=NAME)
    start = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    sink = KafkaEventSink.from_settings(stack.settings(), journal_dir=work / "journal")
    n = 0
    deadline = time.monotonic() + 4 * INTERVAL
    killed = False

    def emit() -> None:
        nonlocal n, killed
        for _ in range(20):
            sink.emit(ACCOUNT.encode(), encode(event(n)))
            n += 1
        if not killed and time.monotonic() > deadline - 2.5 * INTERVAL:
            digester.kill()  # mid-chain crash: the chain must continue unbroken
            digester.start()
            killed = True

    every(0.5, 4 * INTERVAL, emit)
    sink.close()
    s3 = aws(stack, "s3")

    def digests() -> list[str]:
        listing = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"AWSLogs/{ACCOUNT}/CloudTrail-Digest/")
        return sorted(o["Key"] for o in listing.get("Contents", []))

    wait_for(lambda: len(digests()) >= 4, 6 * INTERVAL, what="four digests")
    digester.stop()  # a fixed chain: both validators must see the same digests
    end = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)
    yield {
        "endpoint": endpoint,
        "start": start,
        "end": end,
        "digests": digests(),
        "work": work,
        "events": n,
    }
    main.stop()


def validate(
    stack: LocalStack, chain: dict[str, Any], *, ours: bool = False
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_S3": stack.aws_endpoint_url,
    }
    end = chain["end"].strftime("%Y-%m-%dT%H:%M:%SZ")
    begin = chain["start"].strftime("%Y-%m-%dT%H:%M:%SZ")
    args = [
        "--trail-arn",
        ARN,
        "--start-time",
        begin,
        "--end-time",
        end,
        "--verbose",
        "--endpoint-url",
        chain["endpoint"],
    ]
    cmd = (
        [sys.executable, "-m", "recorder.cli", "validate", *args]
        if ours
        else [aws_cli(), "cloudtrail", "validate-logs", *args]
    )
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)


def test_untouched_chain_is_valid(stack: LocalStack, chain: dict[str, Any]) -> None:
    result = validate(stack, chain)
    assert result.returncode == 0, result.stdout + result.stderr
    n = len(chain["digests"])
    assert f"{n}/{n} digest files valid" in result.stdout
    assert "INVALID" not in result.stdout
    assert "log files valid" in result.stdout
    ours = validate(stack, chain, ours=True)
    assert (ours.returncode, ours.stdout) == (result.returncode, result.stdout)


def _log_keys(stack: LocalStack) -> list[str]:
    listing = aws(stack, "s3").list_objects_v2(
        Bucket=BUCKET, Prefix=f"AWSLogs/{ACCOUNT}/CloudTrail/"
    )
    return sorted(o["Key"] for o in listing.get("Contents", []))


def _both_report(stack: LocalStack, chain: dict[str, Any], expected: str) -> None:
    cli = validate(stack, chain)
    ours = validate(stack, chain, ours=True)
    assert cli.returncode == 1, cli.stdout + cli.stderr
    assert expected in cli.stdout + cli.stderr, cli.stdout + cli.stderr
    diff = "\n".join(
        difflib.unified_diff(
            cli.stdout.splitlines() + cli.stderr.splitlines(),
            ours.stdout.splitlines() + ours.stderr.splitlines(),
            "aws",
            "recorder",
            lineterm="",
        )
    )
    assert (ours.returncode, ours.stdout, ours.stderr) == (
        cli.returncode,
        cli.stdout,
        cli.stderr,
    ), diff


def _digested_log_keys(stack: LocalStack, chain: dict[str, Any]) -> list[str]:
    """The log files the fixture's digests list. A file cut just before the digester
    stopped is in S3 but in no digest, so validation never looks at it."""
    s3 = aws(stack, "s3")
    listed = set()
    for key in chain["digests"]:
        digest = json.loads(gzip.decompress(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()))
        listed |= {f["s3Object"] for f in digest["logFiles"]}
    return sorted(listed)


def test_tampering_is_reported(stack: LocalStack, chain: dict[str, Any]) -> None:
    s3 = aws(stack, "s3")
    logs = _digested_log_keys(stack, chain)
    assert len(logs) >= 3 and set(logs) <= set(_log_keys(stack))
    # (a) one byte of a log file changed
    key = logs[0]
    obj = s3.get_object(Bucket=BUCKET, Key=key)
    body = bytearray(gzip.decompress(obj["Body"].read()))
    body[body.index(b"RunInstances")] = ord("X")
    s3.put_object(Bucket=BUCKET, Key=key, Body=gzip.compress(bytes(body)))
    _both_report(stack, chain, f"Log file\ts3://{BUCKET}/{key}\tINVALID: hash value doesn't match")
    # (b) a log file deleted
    s3.delete_object(Bucket=BUCKET, Key=logs[1])
    _both_report(stack, chain, f"Log file\ts3://{BUCKET}/{logs[1]}\tINVALID: not found")
    # (c) a digest's body changed (the signature no longer matches)
    digest = chain["digests"][-1]
    obj = s3.get_object(Bucket=BUCKET, Key=digest)
    original = obj["Body"].read()
    text = gzip.decompress(original).replace(b'"digestS3Bucket"', b'"digestS3Bucket" ')
    s3.put_object(Bucket=BUCKET, Key=digest, Body=gzip.compress(text), Metadata=obj["Metadata"])
    _both_report(
        stack, chain, f"Digest file\ts3://{BUCKET}/{digest}\tINVALID: signature verification failed"
    )
    # put it back: a newest digest that fails its signature hides the links behind it
    s3.put_object(Bucket=BUCKET, Key=digest, Body=original, Metadata=obj["Metadata"])
    # (d) a digest in the middle of the chain deleted
    middle = chain["digests"][len(chain["digests"]) // 2]
    s3.delete_object(Bucket=BUCKET, Key=middle)
    _both_report(stack, chain, f"Digest file\ts3://{BUCKET}/{middle}\tINVALID: not found")
