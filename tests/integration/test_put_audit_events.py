"""Issue 25 acceptance, item 2: events from any language through CloudTrail Data's
``PutAuditEvents``, on the real broker and moto, through the real doors.

One ``recorder run all`` with API credentials of two accounts, A and B, each with a
trail (log file validation on) whose advanced selector takes ``ActivityAuditLog``
events. A makes a Custom channel with ``aws cloudtrail create-channel`` and puts events
with ``aws cloudtrail-data put-audit-events`` and boto3's ``cloudtrail-data`` client,
one of them claiming account B. Every successful event is in A's trail's log files
exactly once, the one claiming B is refused (``InvalidRecipient``) and B's trail holds
nothing; a call of 101 events gets AWS's ``ValidationException`` from both clients
(nothing stored); every file is listed in a digest (5-s digest windows) and ``aws
cloudtrail validate-logs`` accepts them.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import subprocess
from collections import Counter
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from recorder.api import ingest
from recorder.stack.local import LocalStack
from recorder.stack.processes import free_port
from tests.integration.helpers import (
    RecorderProcess,
    aws,
    cloudtrail_bucket,
    read_log_files,
    wait_until,
)
from tests.integration.test_integrity import aws_cli

pytestmark = pytest.mark.integration

A, B = "111111111111", "222222222222"
KEYS = {A: ("AKIDPUTA", "put-a-secret"), B: ("AKIDPUTB", "put-b-secret")}
REGION = "us-east-1"
AUDIT_SELECTORS = [
    {
        "Name": "my apps",
        "FieldSelectors": [{"Field": "eventCategory", "Equals": ["ActivityAuditLog"]}],
    }
]


@dataclass
class Env:
    stack: LocalStack
    proc: RecorderProcess
    endpoint: str
    start: dt.datetime

    def client(self, service: str, account: str = A) -> Any:
        key, secret = KEYS[account]
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
        )

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        key, secret = KEYS[A]
        result = subprocess.run(
            [aws_cli(), *args, "--endpoint-url", self.endpoint, "--output", "json"],
            env={
                **os.environ,
                "AWS_ACCESS_KEY_ID": key,
                "AWS_SECRET_ACCESS_KEY": secret,
                "AWS_DEFAULT_REGION": REGION,
                "AWS_ENDPOINT_URL_S3": self.stack.aws_endpoint_url,
                "AWS_MAX_ATTEMPTS": "1",
            },
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check:
            assert result.returncode == 0, result.stdout + result.stderr
        return result


@pytest.fixture(scope="module")
def env(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Any:
    work = tmp_path_factory.mktemp("put-audit-events")
    credentials = work / "credentials.json"
    credentials.write_text(
        json.dumps(
            {
                "credentials": [
                    {"AccessKeyId": k, "SecretAccessKey": s, "AccountId": account}
                    for account, (k, s) in KEYS.items()
                ]
            }
        )
    )
    s3 = aws(stack, "s3")
    for bucket in ("put-a-logs", "put-b-logs"):
        cloudtrail_bucket(s3, bucket)
    port = free_port()
    proc = RecorderProcess(
        stack,
        ["all"],
        work,
        env={
            "RECORDER_API_PORT": str(port),
            "RECORDER_API_CREDENTIALS_FILE": str(credentials),
            "RECORDER_API_LOCAL_DEVELOPMENT": "false",
            "RECORDER_API_WRITE_BURST": "50",
            "RECORDER_CUT_INTERVAL": "2",
            "RECORDER_DIGEST_INTERVAL": "5",  # a digest "hour" of 5 s
        },
    ).start()
    e = Env(stack, proc, f"http://127.0.0.1:{port}", dt.datetime.now(dt.UTC))
    for account, bucket in ((A, "put-a-logs"), (B, "put-b-logs")):
        ct = e.client("cloudtrail", account)
        ct.create_trail(Name="apps", S3BucketName=bucket, EnableLogFileValidation=True)
        ct.put_event_selectors(TrailName="apps", AdvancedEventSelectors=AUDIT_SELECTORS)
        ct.start_logging(Name="apps")
    try:
        yield e
    finally:
        proc.stop()


def audit_event(n: int, account: str = A) -> dict[str, str]:
    text = json.dumps(
        {
            "version": "1.0",
            "userIdentity": {"type": "CustomUser", "principalId": f"user-{n}"},
            "eventSource": "orders.example.com",
            "eventName": "PlaceOrder",
            "eventTime": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "UID": f"uid-{n}",
            "requestParameters": {"order": n},
            "recipientAccountId": account,
        }
    )
    return {"id": f"ev-{n}", "eventData": text, "eventDataChecksum": ingest.checksum(text)}


def audit_records(stack: LocalStack, bucket: str) -> list[dict[str, Any]]:
    return [
        r
        for records in read_log_files(stack, bucket).values()
        for r in records
        if r.get("eventCategory") == "ActivityAuditLog"
    ]


def digested(stack: LocalStack) -> set[str]:
    """The log files A's trail's digests list."""
    s3 = aws(stack, "s3")
    prefix = f"AWSLogs/{A}/CloudTrail-Digest/{REGION}/"
    out: set[str] = set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket="put-a-logs", Prefix=prefix):
        for o in page.get("Contents", []):
            body = s3.get_object(Bucket="put-a-logs", Key=o["Key"])["Body"].read()
            out |= {f["s3Object"] for f in json.loads(gzip.decompress(body))["logFiles"]}
    return out


def test_put_audit_events_through_the_cli_and_boto3(env: Env) -> None:
    made = json.loads(
        env.cli(
            "cloudtrail",
            "create-channel",
            "--name",
            "orders",
            "--source",
            "Custom",
            "--destinations",
            "Type=EVENT_DATA_STORE,Location=orders-store",
        ).stdout
    )
    channel = made["ChannelArn"]
    assert channel.startswith(f"arn:aws:cloudtrail:{REGION}:{A}:channel/")
    # the aws CLI: two of A's events and one claiming account B
    cli_events = [audit_event(0), audit_event(1), audit_event(2, account=B)]
    answer = json.loads(
        env.cli(
            "cloudtrail-data",
            "put-audit-events",
            "--channel-arn",
            channel,
            "--audit-events",
            json.dumps(cli_events),
        ).stdout
    )
    assert [s["id"] for s in answer["successful"]] == ["ev-0", "ev-1"]
    assert [(f["id"], f["errorCode"]) for f in answer["failed"]] == [("ev-2", "InvalidRecipient")]
    event_ids = [s["eventID"] for s in answer["successful"]]
    # boto3: five more
    data = env.client("cloudtrail-data")
    answer = data.put_audit_events(
        channelArn=channel, auditEvents=[audit_event(n) for n in range(3, 8)]
    )
    assert answer["failed"] == []
    event_ids += [s["eventID"] for s in answer["successful"]]
    assert len(set(event_ids)) == 7
    # over the limit: AWS's ValidationException from both clients, nothing stored
    with pytest.raises(ClientError) as e:
        data.put_audit_events(
            channelArn=channel, auditEvents=[audit_event(n) for n in range(100, 201)]
        )
    assert e.value.response["Error"]["Code"] == "ValidationException"
    refused = env.cli(
        "cloudtrail-data",
        "put-audit-events",
        "--channel-arn",
        channel,
        "--audit-events",
        json.dumps([audit_event(n) for n in range(300, 401)]),
        check=False,
    )
    assert refused.returncode != 0 and "ValidationException" in refused.stderr

    # exactly once in A's trail's log files; nothing of it in B's
    def delivered() -> list[dict[str, Any]]:
        found = audit_records(env.stack, "put-a-logs")
        return found if {r["eventID"] for r in found} >= set(event_ids) else []

    records = wait_until(delivered, 120, message="A's audit events in A's log files")
    assert Counter(r["eventID"] for r in records) == Counter(event_ids)
    assert {r["recipientAccountId"] for r in records} == {A}
    assert sorted(r["requestID"] for r in records) == sorted(
        f"uid-{n}" for n in (0, 1, 3, 4, 5, 6, 7)
    )
    assert all(r["metadata"]["channelARN"] == channel for r in records)
    assert audit_records(env.stack, "put-b-logs") == []

    # digested: every log file of A's trail is listed in a digest, and validate-logs
    # accepts them all
    trail_arn = f"arn:aws:cloudtrail:{REGION}:{A}:trail/apps"
    files = set(read_log_files(env.stack, "put-a-logs"))
    wait_until(lambda: digested(env.stack) >= files, 120, message="A's log files listed in digests")
    validated = env.cli(
        "cloudtrail",
        "validate-logs",
        "--trail-arn",
        trail_arn,
        "--start-time",
        (env.start - dt.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "--end-time",
        (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "--verbose",
    )
    out = validated.stdout
    assert f"{len(files)}/{len(files)} log files valid" in out, out
    assert "INVALID" not in out and "not found" not in out, out
    # the channel is the account's own: B cannot put into it
    with pytest.raises(ClientError) as e:
        env.client("cloudtrail-data", B).put_audit_events(
            channelArn=channel, auditEvents=[audit_event(9, account=B)]
        )
    assert e.value.response["Error"]["Code"] == "ChannelInsufficientPermission"


def test_no_such_channel(env: Env) -> None:
    missing = f"arn:aws:cloudtrail:{REGION}:{A}:channel/00000000-0000-0000-0000-000000000000"
    with pytest.raises(ClientError) as e:
        env.client("cloudtrail-data").put_audit_events(
            channelArn=missing, auditEvents=[audit_event(1)]
        )
    assert e.value.response["Error"]["Code"] == "ChannelNotFound"
