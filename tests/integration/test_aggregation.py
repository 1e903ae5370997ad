"""Issue 28 items 1 and the acceptance: aggregated events through the whole pipeline.

With the real ``aws`` CLI: a trail logging S3 data events with log file validation,
``put-event-configuration`` with the API_ACTIVITY and RESOURCE_ACCESS templates; then
S3 ``PutObject`` calls through a hooked boto3 client over 2-second windows (the
5-minute window of AWS, shortened by ``RECORDER_AGGREGATION_WINDOW_SECONDS``). The
``aggregation`` stage runs in a process of its own and is killed with SIGKILL midway,
once it has decided summaries (its state then holds closed and open windows); its
replacement, started while the traffic goes on, restores the state. Every closed
window has its summaries in ``CloudTrail-Aggregated/`` exactly once, with counts equal
to the events sent in it, and ``aws cloudtrail validate-logs`` accepts the trail's files
and digests. The test waits on conditions only (a loaded machine slows every stage), and
kills every process it started however it ends.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from aiokafka import TopicPartition

from recorder.aws.times import parse_seconds
from recorder.delivery.writer import GROUP_ID as WRITER_GROUP
from recorder.kafka import clients
from recorder.producer import Identity, KafkaEventSink, install
from recorder.stack.local import LocalStack
from recorder.stack.processes import free_port
from tests.integration.helpers import (
    RecorderProcess,
    aws,
    cloudtrail_bucket,
    let_time_pass,
    wait_for,
)

pytestmark = pytest.mark.integration

ACCOUNT = "123456789012"
REGION = "us-east-1"
AWS_CLI = str(Path(sys.executable).with_name("aws"))
BUCKET = "aggregated-logs"
DATA = "aggregated-data"
NAME = "aggregating"
ARN = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/{NAME}"
WINDOW = 2  # seconds per aggregation window (AWS: 300)
WINDOWS_AFTER_KILL = 3  # windows of traffic after the first stage is killed
MAX_WINDOWS = 60  # the first stage decides within this many windows, or the test fails
TEMPLATES = ["API_ACTIVITY", "RESOURCE_ACCESS"]
ENV = {
    "RECORDER_AGGREGATION_WINDOW_SECONDS": str(WINDOW),
    # the hook's own delay before api-events (windows close on the routers' marks, so
    # the router's and the stage's delays need no allowance)
    "RECORDER_AGGREGATION_LATENESS": "5",
    "RECORDER_CUT_INTERVAL": "1",
    "RECORDER_DIGEST_INTERVAL": "6",
    "RECORDER_API_WRITE_RATE": "20",
    "RECORDER_API_WRITE_BURST": "20",
}


def _env(stack: LocalStack, tmp: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL_S3": stack.aws_endpoint_url,
        "AWS_CONFIG_FILE": str(tmp / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp / "no-credentials"),
    }
    env.pop("AWS_PROFILE", None)
    return env


def _cli(stack: LocalStack, port: int, tmp: Path, *args: str) -> Any:
    done = subprocess.run(
        [AWS_CLI, "cloudtrail", *args, "--endpoint-url", f"http://127.0.0.1:{port}"],
        env=_env(stack, tmp),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout) if done.stdout.strip().startswith("{") else done.stdout


def _aggregated(stack: LocalStack) -> list[dict[str, Any]]:
    s3 = aws(stack, "s3")
    out: list[dict[str, Any]] = []
    prefix = f"AWSLogs/{ACCOUNT}/CloudTrail-Aggregated/{REGION}/"
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        for obj in page.get("Contents", []):
            name = obj["Key"].rsplit("/", 1)[1]
            assert name.startswith(f"{ACCOUNT}_CloudTrail-Aggregated_{REGION}_"), obj["Key"]
            body = s3.get_object(Bucket=BUCKET, Key=obj["Key"])["Body"].read()
            out += json.loads(gzip.decompress(body))["Records"]
    return out


def _window(event_time: str) -> str:
    epoch = int(parse_seconds(event_time).timestamp()) // WINDOW * WINDOW
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _counts(records: list[dict[str, Any]], dimension: str) -> Counter[tuple[str, str]]:
    """(windowStart, primary value) -> count, over the summaries of one template."""
    out: Counter[tuple[str, str]] = Counter()
    for r in records:
        primary = r["summary"]["primaryDimension"]
        if primary["dimension"] == dimension:
            for s in primary["statistics"]:
                out[(r["timeWindow"]["windowStart"], s["name"])] += s["value"]
    return out


def _writer_delivered(stack: LocalStack, ends: dict[int, int]) -> bool:
    """Whether the writer has committed ``routed`` up to ``ends``: every record before
    is in a delivered log file, or was skipped as one it had delivered already."""

    async def committed() -> dict[int, int]:
        consumer = clients.consumer(stack.settings(), group_id=WRITER_GROUP)
        await consumer.start()
        try:
            return {
                p: (await consumer.committed(TopicPartition(stack.settings().topics.routed, p)))
                or 0
                for p in ends
            }
        finally:
            await consumer.stop()

    done = asyncio.run(committed())
    return all(done[p] >= end for p, end in ends.items())


def _routed_ends(stack: LocalStack) -> dict[int, int]:
    async def ends() -> dict[int, int]:
        consumer = clients.consumer(stack.settings(), group_id=None)
        await consumer.start()
        try:
            topic = stack.settings().topics.routed
            tps = [TopicPartition(topic, p) for p in range(stack.partitions)]
            return {tp.partition: end for tp, end in (await consumer.end_offsets(tps)).items()}
        finally:
            await consumer.stop()

    return asyncio.run(ends())


@pytest.fixture
def started() -> Iterator[list[RecorderProcess]]:
    """Every recorder process the test starts, killed at teardown whatever happened."""
    processes: list[RecorderProcess] = []
    try:
        yield processes
    finally:
        for p in reversed(processes):
            p.kill()


def test_summaries_of_every_closed_window_exactly_once_across_a_kill(
    stack: LocalStack, tmp_path: Path, started: list[RecorderProcess]
) -> None:
    port = free_port()
    env = {**ENV, "RECORDER_API_PORT": str(port)}
    main = RecorderProcess(stack, ["api", "router", "writer", "digester"], tmp_path / "rw", env=env)
    started.append(main)
    main.start()
    # ready: the stage has its partitions and their starting points (the log end)
    stage = RecorderProcess(stack, ["aggregation"], tmp_path / "agg-1", env=env)
    started.append(stage)
    stage.start()
    replacement: RecorderProcess | None = None
    sink = KafkaEventSink.from_settings(stack.settings(), journal_dir=tmp_path / "journal")
    try:
        s3 = aws(stack, "s3")
        cloudtrail_bucket(s3, BUCKET, f"arn:aws:s3:::{BUCKET}/AWSLogs/{ACCOUNT}/*")
        s3.create_bucket(Bucket=DATA)
        start = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
        # the trail with boto3 (each aws CLI run costs seconds); its event
        # configuration with the aws CLI below
        ct = boto3.client(
            "cloudtrail",
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        ct.create_trail(Name=NAME, S3BucketName=BUCKET, EnableLogFileValidation=True)
        ct.put_event_selectors(
            TrailName=NAME,
            AdvancedEventSelectors=[
                {
                    "FieldSelectors": [
                        {"Field": "eventCategory", "Equals": ["Data"]},
                        {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
                    ]
                }
            ],
        )
        config = [{"EventCategory": "Data", "Templates": TEMPLATES}]
        put = _cli(
            stack,
            port,
            tmp_path,
            "put-event-configuration",
            "--trail-name",
            NAME,
            "--aggregation-configurations",
            json.dumps(config),
        )
        assert put == {"TrailARN": ARN, "AggregationConfigurations": config}
        got = _cli(stack, port, tmp_path, "get-event-configuration", "--trail-name", NAME)
        assert got["AggregationConfigurations"] == config
        ct.start_logging(Name=NAME)

        session = boto3.Session(
            region_name=REGION, aws_access_key_id="AKIAIOSFODNN7EXAMPLE", aws_secret_access_key="x"
        )
        inst = install(session, sink, identity=Identity(account_id=ACCOUNT, user_name="Alice"))
        sent: list[dict[str, Any]] = []
        inst.on_record = sent.append
        client = session.client("s3", endpoint_url=stack.aws_endpoint_url)
        # no pause: the router and the stage read the trails as they are when an
        # event made after StartLogging and PutEventConfiguration returned reaches them
        killed_at: int | None = None  # windows with events when the stage was killed
        i = 0

        def windows() -> int:
            return len({_window(r["eventTime"]) for r in list(sent)})

        while killed_at is None or windows() < killed_at + WINDOWS_AFTER_KILL:
            client.put_object(Bucket=DATA, Key=f"k{i % 3}", Body=b"x")
            i += 1
            assert windows() < MAX_WINDOWS, "the first stage decided no summary"
            if killed_at is None and stage.metric("recorder_aggregation_summaries_total") > 0:
                # SIGKILL midway, once a window was closed: the replacement goes on
                # from the state recorded then (closed windows, open ones, offset)
                stage.kill()
                killed_at = windows()
                # not waited for: the traffic goes on while the group hands the
                # partitions over (the dead member's session runs out first)
                replacement = RecorderProcess(stack, ["aggregation"], tmp_path / "agg-2", env=env)
                started.append(replacement)
                replacement.start(wait_ready=None)
            let_time_pass(0.1, "a steady rate of data events")
        assert sink.flush(30)
        data = [r for r in sent if r["eventCategory"] == "Data"]
        expected = Counter((_window(r["eventTime"]), r["eventName"]) for r in data)
        assert sum(expected.values()) == i
        assert killed_at is not None and len({w for w, _ in expected}) >= killed_at + 1
        assert replacement is not None
        wait_for(replacement.ready, 120, what="the replacement stage to take the partitions")
        assert '"restored":true' in replacement.log_text()

        def complete() -> list[dict[str, Any]] | None:
            records = _aggregated(stack)
            got = _counts(records, "eventName")
            return records if set(got) >= set(expected) else None

        wait_for(complete, 180, what="the summaries of every window with events")
        # a summary sent twice (the replacement sends its state's last decision again,
        # before it is ready) is in routed by now: once the writer has delivered routed
        # up to here, a second copy would be in the bucket
        ends = _routed_ends(stack)
        wait_for(lambda: _writer_delivered(stack, ends), 120, what="the writer to deliver routed")
        records = _aggregated(stack)
    finally:
        sink.close()

    # exactly once: one summary per (window, template, primary value), by eventId too
    keys = [
        (
            r["timeWindow"]["windowStart"],
            r["summary"]["primaryDimension"]["dimension"],
            r["summary"]["primaryDimension"]["statistics"][0]["name"],
        )
        for r in records
    ]
    assert len(keys) == len(set(keys)) == len({r["eventId"] for r in records})
    # counts equal to the events sent, window by window
    assert _counts(records, "eventName") == expected
    by_bucket = _counts(records, "resourceARN")
    assert sum(by_bucket.values()) == len(data)
    assert {name for _, name in by_bucket} == {f"arn:aws:s3:::{DATA}"}
    for r in records:
        assert (r["eventCategory"], r["eventType"]) == ("Aggregated", "AwsAggregatedEvent")
        assert r["accountId"] == ACCOUNT and r["awsRegion"] == REGION
        assert r["eventSource"] == "s3.amazonaws.com"
        assert r["timeWindow"]["windowSize"] == f"PT{WINDOW}S"

    # the files, summaries included, are in the trail's digests and valid
    def validated() -> str | None:
        done = subprocess.run(
            [
                AWS_CLI,
                "cloudtrail",
                "validate-logs",
                "--trail-arn",
                ARN,
                "--start-time",
                start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "--endpoint-url",
                f"http://127.0.0.1:{port}",
                "--verbose",
            ],
            env=_env(stack, tmp_path),
            capture_output=True,
            text=True,
            timeout=120,
        )
        out = done.stdout + done.stderr
        return out if "CloudTrail-Aggregated" in out and done.returncode == 0 else None

    out = wait_for(validated, 120, interval=3, what="validate-logs listing the summaries")
    assert "INVALID" not in out and "valid" in out
