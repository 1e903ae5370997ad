"""Helpers for integration tests: AWS clients on the test stack, reading log files back."""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path
from typing import Any

import boto3

from loadtest.procs import RecorderProcess
from recorder.stack.local import LocalStack

__all__ = ["RecorderProcess", "aws", "read_log_files", "wait_for", "write_trails"]


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
