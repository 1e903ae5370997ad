"""Issue 11 item 6: one failing digest chain never stops the others.

Ten trails in ten accounts, created through the control API with boto3, on one
``recorder run all`` (real broker, real moto).
Trail A's bucket is deleted: its digest writes fail (NoSuchBucket), and after
``RECORDER_DIGEST_MAX_ATTEMPTS`` its chain is parked, reported in GetTrailStatus
(``LatestDigestDeliveryError``) and in ``recorder_digester_parked_chains``, while the
other chains keep getting their digests window after window. The bucket comes
back: A's chain resumes and the error clears. Trail D is deleted (DeleteTrail): its
final digest lands under its S3 key prefix, kept in the chain state, although the
trail is gone.
"""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from recorder.events import encode
from recorder.producer import KafkaEventSink
from recorder.stack.local import LocalStack
from recorder.stack.processes import free_port
from tests.integration.helpers import (
    RecorderProcess,
    aws,
    cloudtrail_bucket,
    every,
    let_time_pass,
    wait_for,
    wait_until,
)

pytestmark = pytest.mark.integration

INTERVAL = 4
ACCOUNTS = [f"{123456789012 + i:012d}" for i in range(10)]
BROKEN = ACCOUNTS[0]  # the API's test credentials map to this account
DELETED = ACCOUNTS[9]


def trail(account: str) -> dict[str, Any]:
    """CreateTrail parameters."""
    doc: dict[str, Any] = {
        "Name": f"t{account}",
        "S3BucketName": f"bucket-{account}",
        "IsMultiRegionTrail": True,
        "EnableLogFileValidation": True,
    }
    if account == DELETED:
        doc["S3KeyPrefix"] = "gone/here"
    return doc


def prefix(account: str) -> str:
    return "gone/here/" if account == DELETED else ""


def event(account: str, i: int) -> dict[str, Any]:
    return {
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDA",
            "arn": f"arn:aws:iam::{account}:user/a",
            "accountId": account,
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
        "recipientAccountId": account,
    }


def digest_keys(s3: Any, account: str, prefix: str = "") -> list[str]:
    listing = s3.list_objects_v2(
        Bucket=f"bucket-{account}", Prefix=f"{prefix}AWSLogs/{account}/CloudTrail-Digest/"
    )
    return sorted(o["Key"] for o in listing.get("Contents", []))


def empty_and_delete(s3: Any, bucket: str) -> None:
    """Delete a bucket the recorder may still be writing to: a log file or digest that
    lands between the emptying and the delete fails it with BucketNotEmpty, as it
    would for a user; empty it again and retry, as they would."""
    for attempt in range(5):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for o in page.get("Contents", []):
                s3.delete_object(Bucket=bucket, Key=o["Key"])
        try:
            s3.delete_bucket(Bucket=bucket)
            return
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "BucketNotEmpty" or attempt == 4:
                raise


def test_one_failing_chain_among_many(
    stack: LocalStack, tmp_path_factory: pytest.TempPathFactory
) -> None:
    work: Path = tmp_path_factory.mktemp("containment")
    s3 = aws(stack, "s3")
    for account in ACCOUNTS:
        cloudtrail_bucket(s3, f"bucket-{account}")
    credentials = work / "credentials.json"
    credentials.write_text(
        json.dumps(
            {
                "credentials": [
                    {"AccessKeyId": f"key{a}", "SecretAccessKey": "secret", "AccountId": a}
                    for a in ACCOUNTS
                ]
            }
        )
    )
    api_port = free_port()
    proc = RecorderProcess(
        stack,
        ["all"],
        work,
        env={
            "RECORDER_API_CREDENTIALS_FILE": str(credentials),
            "RECORDER_API_PORT": str(api_port),
            "RECORDER_DIGEST_INTERVAL": str(INTERVAL),
            "RECORDER_DIGEST_FINAL_WAIT": "3",
            "RECORDER_DIGEST_MAX_ATTEMPTS": "2",
            "RECORDER_DIGEST_PARK_RETRY": "3",
            "RECORDER_CUT_INTERVAL": "1",
        },
    ).start()
    ct = {
        a: boto3.client(
            "cloudtrail",
            endpoint_url=f"http://127.0.0.1:{api_port}",
            region_name="us-east-1",
            aws_access_key_id=f"key{a}",
            aws_secret_access_key="secret",
        )
        for a in ACCOUNTS
    }
    for a in ACCOUNTS:
        ct[a].create_trail(**trail(a))
        ct[a].start_logging(Name=trail(a)["Name"])
    sink = KafkaEventSink.from_settings(stack.settings(), journal_dir=work / "journal")
    sending = set(ACCOUNTS)
    n = 0

    def emit() -> None:
        nonlocal n
        for account in sorted(sending):
            sink.emit(account.encode(), encode(event(account, n)))
            n += 1

    def send_until(predicate: Any, timeout: float, what: str) -> Any:
        return wait_until(predicate, timeout, message=what, meanwhile=lambda: every(0.5, 1, emit))

    try:
        send_until(
            lambda: all(digest_keys(s3, a, prefix(a)) for a in ACCOUNTS),
            10 * INTERVAL,
            "a digest for every trail",
        )
        # Break A: no more events of its account, its bucket deleted.
        sending.discard(BROKEN)
        let_time_pass(2, "A's last log files are delivered before its bucket goes")
        empty_and_delete(s3, f"bucket-{BROKEN}")
        healthy = [a for a in ACCOUNTS if a not in (BROKEN, DELETED)]
        before = {a: len(digest_keys(s3, a)) for a in healthy}
        send_until(
            lambda: proc.metric("recorder_digester_parked_chains") == 1,
            10 * INTERVAL,
            "A's chain parked",
        )
        status = ct[BROKEN].get_trail_status(Name=trail(BROKEN)["Name"])
        assert status["LatestDigestDeliveryError"] == "NoSuchBucket"
        # The other chains went on: each has new digests since the break.
        send_until(
            lambda: all(len(digest_keys(s3, a)) >= before[a] + 2 for a in healthy),
            6 * INTERVAL,
            "two more digests for every healthy trail",
        )
        assert proc.metric("recorder_service_restarts_total") == 0
        # Repair: the bucket is back; the parked chain's next retry writes its digests.
        cloudtrail_bucket(s3, f"bucket-{BROKEN}")
        send_until(
            lambda: proc.metric("recorder_digester_parked_chains") == 0 and digest_keys(s3, BROKEN),
            10 * INTERVAL,
            "A's chain resumed",
        )
        wait_for(
            lambda: (
                "LatestDigestDeliveryError"
                not in ct[BROKEN].get_trail_status(Name=trail(BROKEN)["Name"])
            ),
            10,
            what="A's digest error cleared",
        )
        # Delete D: its final digest still lands under its prefix.
        count = len(digest_keys(s3, DELETED, "gone/here/"))
        sending.discard(DELETED)
        ct[DELETED].delete_trail(Name=trail(DELETED)["Name"])

        def final() -> dict[str, Any] | None:
            for key in digest_keys(s3, DELETED, "gone/here/")[count:]:
                obj = s3.get_object(Bucket=f"bucket-{DELETED}", Key=key)
                if key in proc.log_text() and '"final": true' in _delivered_line(proc, key):
                    return json.loads(gzip.decompress(obj["Body"].read()))
            return None

        doc = send_until(final, 10 * INTERVAL, "D's final digest")
        assert doc["digestS3Object"].startswith(f"gone/here/AWSLogs/{DELETED}/CloudTrail-Digest/")
        assert digest_keys(s3, DELETED) == []  # nothing outside the prefix
    finally:
        sink.close()
        assert proc.stop() == 0


def _delivered_line(proc: RecorderProcess, key: str) -> str:
    for line in proc.log_text().splitlines():
        if '"digest_delivered"' in line and key in line:
            return json.dumps(json.loads(line))
    return ""
