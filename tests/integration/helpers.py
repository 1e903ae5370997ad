"""Helpers for integration tests: AWS clients on the test stack, reading log files back."""

from __future__ import annotations

import asyncio
import gzip
import inspect
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import boto3

from loadtest.procs import RecorderProcess
from recorder.policies import guide
from recorder.stack.local import LocalStack

T = TypeVar("T")

__all__ = [
    "RecorderProcess",
    "aws",
    "cloudtrail_bucket",
    "cloudtrail_key_policy",
    "cloudtrail_topic",
    "every",
    "holds_for",
    "let_time_pass",
    "let_time_pass_async",
    "read_log_files",
    "wait_for",
    "wait_until",
    "wait_until_async",
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


def wait_until(
    condition: Callable[[], T],
    timeout: float,
    interval: float = 0.5,
    message: str = "condition",
    *,
    meanwhile: Callable[[], Any] | None = None,
) -> T:
    """Poll ``condition`` until it is truthy and return its value; a test waits on what
    it needs, never for a fixed time that is too long on a quiet machine and too short
    on a busy one. ``meanwhile`` runs between polls in place of the pause: what makes
    the condition come true (more traffic) and takes its own time."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {message}")
        if meanwhile is None:
            time.sleep(interval)
        else:
            meanwhile()


def wait_for(
    predicate: Callable[[], T], timeout: float, interval: float = 0.5, what: str = ""
) -> T:
    """:func:`wait_until` under its older name (``what`` is its ``message``)."""
    return wait_until(predicate, timeout, interval, message=what or "condition")


async def wait_until_async(
    condition: Callable[[], T | Awaitable[T]],
    timeout: float,  # noqa: ASYNC109 -- the deadline of a poll, like wait_until's
    interval: float = 0.5,
    message: str = "condition",
    *,
    task: asyncio.Task[Any] | None = None,
) -> T:
    """:func:`wait_until` in a test's event loop. A plain ``condition`` runs in a thread
    (it may call boto3); an ``async`` one is awaited. ``task`` is the service under
    test: if it ends while the test waits, its error is raised instead of a time-out."""
    deadline = time.monotonic() + timeout
    while True:
        if inspect.iscoroutinefunction(condition):
            value = await condition()
        else:
            value = await asyncio.to_thread(condition)
        if value:
            return cast(T, value)
        if task is not None and task.done():
            task.result()
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {message}")
        await asyncio.sleep(interval)


def holds_for(
    condition: Callable[[], Any], duration: float, interval: float = 0.5, message: str = ""
) -> None:
    """Assert ``condition`` stays truthy for ``duration`` seconds: "nothing more arrives"
    is a claim about a span of time, checked all through it (and failing at once)."""
    deadline = time.monotonic() + duration
    while True:
        assert condition(), (
            f"no longer true after {duration - (deadline - time.monotonic()):.1f}s: {message}"
        )
        if time.monotonic() >= deadline:
            return
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))


def let_time_pass(seconds: float, why: str) -> None:
    """A deliberate pause: the passing of time is the behaviour under test (a cut
    interval elapses, traffic keeps a rate). ``why`` says which, at the call site."""
    assert why, "say why time must pass"
    time.sleep(seconds)


async def let_time_pass_async(seconds: float, why: str) -> None:
    """:func:`let_time_pass` in a test's event loop."""
    assert why, "say why time must pass"
    await asyncio.sleep(seconds)


def every(interval: float, seconds: float, action: Callable[[], Any]) -> None:
    """Run ``action`` every ``interval`` seconds for ``seconds``: steady traffic."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        action()
        let_time_pass(interval, "traffic at a steady rate")


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


#: Kafka's record batch codec ids (the low bits of a batch's attributes).
KAFKA_CODECS = {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}


async def record_batches(stack: LocalStack, topic: str) -> list[tuple[str, list[Any]]]:
    """Every record batch of ``topic`` as the broker serves it, with its codec: what a
    consumer's decompression hides. Each entry is (codec name, the batch's records,
    each with ``offset``, ``key``, ``value`` and ``headers``)."""
    from aiokafka import AIOKafkaClient, TopicPartition
    from aiokafka.protocol.fetch import FetchRequest
    from aiokafka.record.memory_records import MemoryRecords

    client = AIOKafkaClient(bootstrap_servers=stack.bootstrap_servers)
    await client.bootstrap()
    out: list[tuple[str, list[Any]]] = []
    try:
        await client.force_metadata_update()
        for partition in sorted(client.cluster.partitions_for_topic(topic) or ()):
            node = client.cluster.leader_for_partition(TopicPartition(topic, partition))
            offset, highwater = 0, 1
            while offset < highwater:
                request = FetchRequest(
                    100, 1, 64 * 1024 * 1024, 0, [(topic, [(partition, offset, 16 * 1024 * 1024)])]
                )
                response = await client.send(node, request)
                data = response.topics[0][1][0]
                highwater = data[2]
                records = MemoryRecords(data[-1])
                if not records.has_next():
                    break
                while records.has_next():
                    batch = records.next_batch()
                    if batch is None:
                        break
                    got = list(batch)
                    out.append((KAFKA_CODECS.get(batch.compression_type, "?"), got))
                    if got:
                        offset = max(offset, got[-1].offset + 1)
    finally:
        await client.close()
    return out
