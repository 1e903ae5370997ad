"""Helpers for integration tests: AWS clients on the test stack, reading log files back."""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path
from typing import Any

import boto3

from loadtest.procs import RecorderProcess
from recorder.policies import guide
from recorder.stack.local import LocalStack

__all__ = [
    "RecorderProcess",
    "aws",
    "cloudtrail_bucket",
    "cloudtrail_key_policy",
    "cloudtrail_topic",
    "read_log_files",
    "wait_for",
    "write_trails",
]


def aws(stack: LocalStack, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=stack.aws_endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def read_log_files(
    stack: LocalStack, bucket: str, prefix: str = ""
) -> dict[str, list[dict[str, Any]]]:
    s3 = aws(stack, "s3")
    out: dict[str, list[dict[str, Any]]] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            key = obj["Key"]
            if "/CloudTrail/" not in key:
                continue
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            out[key] = json.loads(gzip.decompress(body))["Records"]
    return out


def wait_for(predicate: Any, timeout: float, interval: float = 0.5, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


def write_trails(path: Path, trails: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps(trails, indent=2))
    return path


def cloudtrail_bucket(s3: Any, bucket: str, objects: str | list[str] | None = None) -> None:
    """Create ``bucket`` with the guide's policy for CloudTrail (lines 10092-10115):
    GetBucketAcl on the bucket, PutObject on ``objects`` (default: anywhere in it)."""
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_policy(Bucket=bucket, Policy=guide.bucket_policy(bucket, objects))


def cloudtrail_topic(sns: Any, name: str) -> str:
    """Create topic ``name`` with the guide's policy letting CloudTrail publish (line 10350)."""
    arn = str(sns.create_topic(Name=name)["TopicArn"])
    sns.set_topic_attributes(
        TopicArn=arn, AttributeName="Policy", AttributeValue=guide.topic_policy(arn)
    )
    return arn


def cloudtrail_key_policy(account_id: str, trail_accounts: list[str]) -> str:
    """The guide's key policy (lines 10860-10880): the owner administers, CloudTrail
    encrypts for the trails of ``trail_accounts`` and describes the key."""
    return guide.key_policy(account_id, trail_accounts)
