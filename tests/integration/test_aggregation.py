"""Issue 28 items 1 and the acceptance: aggregated events through the whole pipeline.

With the real ``aws`` CLI: a trail logging S3 data events with log file validation,
``put-event-configuration`` with the API_ACTIVITY and RESOURCE_ACCESS templates; then
S3 ``PutObject`` calls through a hooked boto3 client for a dozen 2-second windows (the
5-minute window of AWS, shortened by ``RECORDER_AGGREGATION_WINDOW_SECONDS``). The
``aggregation`` stage runs in a process of its own and is killed with SIGKILL midway;
its replacement restores the state. Every closed window has its summaries in
``CloudTrail-Aggregated/`` exactly once, with counts equal to the events sent in it,
and ``aws cloudtrail validate-logs`` accepts the trail's files and digests.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import pytest

from recorder.aws.times import parse_seconds
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
WINDOWS = 6  # windows of traffic
TEMPLATES = ["API_ACTIVITY", "RESOURCE_ACCESS"]
ENV = {
    "RECORDER_AGGREGATION_WINDOW_SECONDS": str(WINDOW),
    # above the pipeline's own latency (hook, router and stage each poll up to 1 s
    # apart): a window closed by the wall clock before its events arrive makes them late
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


def test_summaries_of_every_closed_window_exactly_once_across_a_kill(
    stack: LocalStack, tmp_path: Path
) -> None:
    port = free_port()
    env = {**ENV, "RECORDER_API_PORT": str(port)}
    main = RecorderProcess(stack, ["api", "router", "writer", "digester"], tmp_path / "rw", env=env)
    main.start()
    stage = RecorderProcess(stack, ["aggregation"], tmp_path / "agg-1", env=env).start()
    replacement = None
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
        # let the router see the trail's selectors before the first event
        let_time_pass(2, "the trail's configuration reaches the router and the stage")
        killed = False
        i = 0

        def windows() -> int:
            return len({_window(r["eventTime"]) for r in list(sent)})

        while windows() < WINDOWS:
            client.put_object(Bucket=DATA, Key=f"k{i % 3}", Body=b"x")
            i += 1
            if not killed and windows() >= WINDOWS // 2:
                stage.kill()  # SIGKILL midway: the replacement goes on from its state
                killed = True
                replacement = RecorderProcess(
                    stack, ["aggregation"], tmp_path / "agg-2", env=env
                ).start()
            let_time_pass(0.1, "a steady rate of data events")
        assert sink.flush(30)
        data = [r for r in sent if r["eventCategory"] == "Data"]
        expected = Counter((_window(r["eventTime"]), r["eventName"]) for r in data)
        assert sum(expected.values()) == i and len({w for w, _ in expected}) >= WINDOWS

        def complete() -> list[dict[str, Any]] | None:
            records = _aggregated(stack)
            got = _counts(records, "eventName")
            return records if set(got) >= set(expected) else None

        records = wait_for(complete, 90, what="the summaries of every window with events")
        assert replacement is not None and '"restored":true' in replacement.log_text()
        let_time_pass(3, "a summary sent twice would be cut within the writer's 1-s interval")
        records = _aggregated(stack)
    finally:
        sink.close()
        stage.kill()
        if replacement is not None:
            replacement.stop()

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
    try:
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

        out = wait_for(validated, 60, interval=3, what="validate-logs listing the summaries")
        assert "INVALID" not in out and "valid" in out
    finally:
        main.stop()
