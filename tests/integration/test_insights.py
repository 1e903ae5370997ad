"""Issue 15 acceptance: an Insights pair detected on the stream and delivered as a
CloudTrail-Insight log file, on the real broker and the real S3 server.

A trail with Insights on; a botocore client with the producer hook makes SNS
``CreateTopic`` calls (a write management API) at a steady rate while the baseline is
learned, then a burst, then the steady rate again. ``recorder run insights`` is a
process of its own and is killed with SIGKILL right after it decided the Start; its
replacement restores the state and ends the insight. One Start and one End land
under ``AWSLogs/<account>/CloudTrail-Insight/<region>/``, in files any CloudTrail
reader takes (gzip JSON with ``Records``), and the trail's digests list them with
the hash of their content.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import re
import time
from pathlib import Path
from typing import Any

import boto3
import orjson
import pytest
from aiokafka import AIOKafkaConsumer

from recorder.producer import Identity, KafkaEventSink, install
from recorder.stack.local import LocalStack
from recorder.trails.destination import Destination
from tests.integration.helpers import (
    RecorderProcess,
    aws,
    cloudtrail_bucket,
    let_time_pass,
    wait_for,
    write_trails,
)

pytestmark = pytest.mark.integration

ACCOUNT = "123456789012"
REGION = "us-east-1"
BUCKET = "insights-logs"
TRAIL_ARN = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/insights"
FOLDER = re.compile(
    rf"^AWSLogs/{ACCOUNT}/CloudTrail-Insight/{REGION}/\d{{4}}/\d{{2}}/\d{{2}}/"
    rf"{ACCOUNT}_CloudTrail-Insight_{REGION}_\d{{8}}T\d{{4}}Z_[A-Za-z0-9]{{16}}\.json\.gz$"
)
#: One-second buckets and an eight-bucket baseline: the rule of a day, in seconds. A
#: wide normal range (8 deviations) keeps a loaded machine's jitter normal; the burst
#: is ten times the steady rate. A bucket waits 5 s for its calls: on a loaded CI
#: machine the hook's sink can send a second's calls after the stage, at the end of its
#: partition, has closed that second by the clock; a burst counted late is no burst.
INSIGHTS_ENV = {
    "RECORDER_INSIGHTS_BUCKET_SECONDS": "1",
    "RECORDER_INSIGHTS_BASELINE_WINDOW": "8",
    "RECORDER_INSIGHTS_THRESHOLD": "8",
    "RECORDER_INSIGHTS_LATENESS": "5",
    "RECORDER_INSIGHTS_GRACE": "2",
}
STEADY, BURST = 4, 60  # calls per second
DIGEST_INTERVAL = 6  # seconds per digest "hour"


@pytest.fixture(scope="module")
def pipeline(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Any:
    work = tmp_path_factory.mktemp("insights")
    cloudtrail_bucket(aws(stack, "s3"), BUCKET)
    trails = write_trails(
        work / "trails.json",
        [
            {
                "Name": "insights",
                "TrailARN": TRAIL_ARN,
                "HomeRegion": REGION,
                "S3BucketName": BUCKET,
                "LogFileValidationEnabled": True,
                "InsightSelectors": [{"InsightType": "ApiCallRateInsight"}],
            }
        ],
    )
    env = {
        "RECORDER_TRAILS_FILE": str(trails),
        "RECORDER_DIGEST_INTERVAL": str(DIGEST_INTERVAL),
        **INSIGHTS_ENV,
    }
    proc = RecorderProcess(stack, ["router", "writer", "digester"], work / "rw", env=env).start()
    try:
        yield work, env
    finally:
        proc.stop()


def _pace(sns: Any, per_second: int, seconds: float) -> None:
    """``per_second`` calls at the start of each second, never catching up on a slow
    second (so no bucket gets more than its share)."""
    end = time.time() + seconds
    while time.time() < end:
        tick = int(time.time())
        for _ in range(per_second):
            sns.create_topic(Name="insights-burst")
        let_time_pass(max(0.0, tick + 1 - time.time()), "to the next second's bucket")


def test_burst_gives_one_insight_pair_under_cloudtrail_insight(
    stack: LocalStack, pipeline: Any, tmp_path: Path
) -> None:
    work, env = pipeline
    insights = RecorderProcess(stack, ["insights"], work / "insights-1", env=env).start()
    sink = KafkaEventSink.from_settings(stack.settings(), journal_dir=tmp_path / "journal")
    session = boto3.Session(
        region_name=REGION, aws_access_key_id="AKIAIOSFODNN7EXAMPLE", aws_secret_access_key="x"
    )
    install(session, sink, identity=Identity(account_id=ACCOUNT, user_name="Alice"))
    sns = session.client("sns", endpoint_url=stack.aws_endpoint_url)
    replacement = None
    try:
        _pace(sns, STEADY, 14)  # learning: 8 buckets, and a few more
        assert insights.metric("recorder_insights_events_total") == 0
        _pace(sns, BURST, 3)
        wait_for(
            lambda: insights.metric("recorder_insights_events_total") >= 1,
            30,
            interval=0.2,
            what="the Start decided",
        )
        assert insights.metric("recorder_insights_late_calls_total") == 0
        insights.kill()  # SIGKILL right after the Start: the replacement must go on
        _pace(sns, STEADY, 1)
        replacement = RecorderProcess(stack, ["insights"], work / "insights-2", env=env).start()
        _pace(sns, STEADY, 6)
        assert sink.flush(30)
        records = wait_for(
            lambda: _insight_records(
                stack, lambda rs: {r["insightDetails"]["state"] for r in rs} >= {"Start", "End"}
            ),
            60,
            what="the Start and End in CloudTrail-Insight files",
        )
        assert '"restored":true' in replacement.log_text()  # state, not a fresh start
    finally:
        sink.close()
        insights.kill()
        if replacement is not None:
            replacement.stop()

    let_time_pass(3, "a re-sent event would be cut within the writer's 2-s interval")
    records = _insight_records(stack, lambda rs: True)
    states = [r["insightDetails"]["state"] for r in records]
    assert sorted(states) == ["End", "Start"], records
    start = next(r for r in records if r["insightDetails"]["state"] == "Start")
    end = next(r for r in records if r["insightDetails"]["state"] == "End")
    for r in (start, end):
        assert r["eventType"] == "AwsCloudTrailInsight"
        assert r["eventCategory"] == "Insight"
        assert r["eventVersion"] == "1.07"
        assert r["awsRegion"] == REGION and r["recipientAccountId"] == ACCOUNT
        d = r["insightDetails"]
        assert (d["eventSource"], d["eventName"], d["insightType"]) == (
            "sns.amazonaws.com",
            "CreateTopic",
            "ApiCallRateInsight",
        )
    assert start["sharedEventID"] == end["sharedEventID"]
    assert start["eventID"] != end["eventID"]
    s = start["insightDetails"]["insightContext"]["statistics"]
    e = end["insightDetails"]["insightContext"]["statistics"]
    # per minute: the steady rate is STEADY * 60 a minute, the burst far above it
    assert 0 < s["baseline"]["average"] <= 2 * STEADY * 60
    assert s["insight"]["average"] > 2 * s["baseline"]["average"]
    assert e["baseline"] == s["baseline"]
    assert e["insight"]["average"] > 2 * s["baseline"]["average"]
    assert e["insightDuration"] > 0 and "insightDuration" not in s
    assert end["eventTime"] > start["eventTime"]
    manifests = asyncio.run(_insight_manifests(stack))
    chain = Destination(TRAIL_ARN, ACCOUNT, REGION).digest_key()
    assert manifests and all(key == chain for key, _ in manifests)
    assert {m["bucket"] for _, m in manifests} == {BUCKET}
    # The trail's digests list the Insights files with the hash of their content.
    insight_files = {m["key"]: m["sha256"] for _, m in manifests}
    listed = wait_for(
        lambda: _digested(stack, set(insight_files)),
        10 * DIGEST_INTERVAL,
        what="the Insights files in a digest",
    )
    for entry in listed:
        body = aws(stack, "s3").get_object(Bucket=BUCKET, Key=entry["s3Object"])["Body"].read()
        assert entry["hashValue"] == hashlib.sha256(gzip.decompress(body)).hexdigest()
        assert entry["hashValue"] == insight_files[entry["s3Object"]]


def _digested(stack: LocalStack, keys: set[str]) -> list[dict[str, Any]] | None:
    s3 = aws(stack, "s3")
    listing = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"AWSLogs/{ACCOUNT}/CloudTrail-Digest/")
    found = []
    for obj in listing.get("Contents", []):
        digest = json.loads(
            gzip.decompress(s3.get_object(Bucket=BUCKET, Key=obj["Key"])["Body"].read())
        )
        found += [f for f in digest["logFiles"] if f["s3Object"] in keys]
    return found if {f["s3Object"] for f in found} == keys else None


def _insight_records(stack: LocalStack, ok: Any) -> list[dict[str, Any]] | None:
    s3 = aws(stack, "s3")
    records: list[dict[str, Any]] = []
    listing = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"AWSLogs/{ACCOUNT}/CloudTrail-Insight/")
    for obj in listing.get("Contents", []):
        assert FOLDER.match(obj["Key"]), obj["Key"]
        head = s3.head_object(Bucket=BUCKET, Key=obj["Key"])
        assert head["ServerSideEncryption"] == "AES256"
        body = s3.get_object(Bucket=BUCKET, Key=obj["Key"])["Body"].read()
        records += json.loads(gzip.decompress(body))["Records"]
    return records if records and ok(records) else None


async def _insight_manifests(stack: LocalStack) -> list[tuple[bytes, dict[str, Any]]]:
    consumer = AIOKafkaConsumer(
        "delivered", bootstrap_servers=stack.bootstrap_servers, auto_offset_reset="earliest"
    )
    await consumer.start()
    out = []
    try:
        batches = await consumer.getmany(timeout_ms=3000)
        for messages in batches.values():
            for m in messages:
                manifest = orjson.loads(m.value)
                if "/CloudTrail-Insight/" in str(manifest.get("key", "")):  # not markers
                    out.append((m.key, manifest))
    finally:
        await consumer.stop()
    return out
