"""Issue 28 item 3: Insights on data events, on the real broker and S3 server.

A trail that logs S3 data events with ``ApiCallRateInsight`` on ``EventCategories``
``["Data"]``: steady S3 ``GetObject`` calls through a hooked boto3 client while the
baseline is learned, a burst, steady again, gives one Start and one End for
``s3.amazonaws.com`` ``GetObject``; a burst of a write management API (SNS
``CreateTopic``) at the same time gives that trail none, since it counts data events
only (management-only stays the default).
"""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from recorder.producer import Identity, KafkaEventSink, install
from recorder.stack.local import LocalStack
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
BUCKET = "data-insights-logs"
DATA = "data-insights-objects"
TRAIL_ARN = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/data-insights"
#: As tests/integration/test_insights.py: one-second intervals, an eight-interval
#: baseline, and 5 s for a second's calls to arrive (a call counted late on a loaded
#: machine would split the burst in two insights).
ENV = {
    "RECORDER_INSIGHTS_BUCKET_SECONDS": "1",
    "RECORDER_INSIGHTS_BASELINE_WINDOW": "8",
    "RECORDER_INSIGHTS_THRESHOLD": "8",
    "RECORDER_INSIGHTS_LATENESS": "5",
    "RECORDER_INSIGHTS_GRACE": "2",
    "RECORDER_CUT_INTERVAL": "1",
}
STEADY, BURST = 4, 60  # calls per second


def _insights(stack: LocalStack) -> list[dict[str, Any]]:
    s3 = aws(stack, "s3")
    out: list[dict[str, Any]] = []
    prefix = f"AWSLogs/{ACCOUNT}/CloudTrail-Insight/"
    for obj in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", []):
        body = s3.get_object(Bucket=BUCKET, Key=obj["Key"])["Body"].read()
        out += json.loads(gzip.decompress(body))["Records"]
    return out


def test_a_data_burst_gives_one_pair_and_a_management_burst_none(
    stack: LocalStack, tmp_path: Path
) -> None:
    s3 = aws(stack, "s3")
    cloudtrail_bucket(s3, BUCKET)
    s3.create_bucket(Bucket=DATA)
    s3.put_object(Bucket=DATA, Key="k", Body=b"x")
    trails = write_trails(
        tmp_path / "trails.json",
        [
            {
                "Name": "data-insights",
                "TrailARN": TRAIL_ARN,
                "HomeRegion": REGION,
                "S3BucketName": BUCKET,
                "EventSelectors": [
                    {
                        "ReadWriteType": "All",
                        "IncludeManagementEvents": True,
                        "DataResources": [
                            {"Type": "AWS::S3::Object", "Values": [f"arn:aws:s3:::{DATA}/"]}
                        ],
                    }
                ],
                "InsightSelectors": [
                    {"InsightType": "ApiCallRateInsight", "EventCategories": ["Data"]}
                ],
            }
        ],
    )
    env = {"RECORDER_TRAILS_FILE": str(trails), **ENV}
    proc = RecorderProcess(stack, ["writer", "insights"], tmp_path / "rw", env=env)
    proc.start()
    sink = KafkaEventSink.from_settings(stack.settings(), journal_dir=tmp_path / "journal")
    try:
        session = boto3.Session(
            region_name=REGION, aws_access_key_id="AKIAIOSFODNN7EXAMPLE", aws_secret_access_key="x"
        )
        install(session, sink, identity=Identity(account_id=ACCOUNT, user_name="Alice"))
        objects = session.client("s3", endpoint_url=stack.aws_endpoint_url)
        sns = session.client("sns", endpoint_url=stack.aws_endpoint_url)

        def pace(seconds: float, gets: int, topics: int) -> None:
            end = time.time() + seconds
            while time.time() < end:
                tick = int(time.time())
                for _ in range(gets):
                    objects.get_object(Bucket=DATA, Key="k")["Body"].read()
                for _ in range(topics):
                    sns.create_topic(Name="management-burst")
                let_time_pass(max(0.0, tick + 1 - time.time()), "to the next second")

        pace(14, STEADY, STEADY)  # learning: both series steady
        pace(3, STEADY, BURST)  # a management burst: not this trail's
        pace(4, STEADY, STEADY)
        pace(3, BURST, STEADY)  # a data burst
        pace(6, STEADY, STEADY)
        assert sink.flush(30)

        def pair() -> bool:
            states = {r["insightDetails"]["state"] for r in _insights(stack)}
            return states >= {"Start", "End"}

        wait_for(pair, 60, what="the Start and End of the GetObject insight")
        # no trail of the account takes management Insights: the stage keeps no series
        # for its management calls at all (issue 27), so the burst decides nothing
        let_time_pass(3, "a later event would be cut within the writer's 1-s interval")
        assert '"event_name":"CreateTopic"' not in proc.log_text()
        assert proc.metric("recorder_insights_late_calls_total") == 0
        assert proc.metric("recorder_insights_events_total") == 2
        records = _insights(stack)
    finally:
        sink.close()
        proc.stop()
    states = sorted(r["insightDetails"]["state"] for r in records)
    assert states == ["End", "Start"], records
    for r in records:
        d = r["insightDetails"]
        assert (d["eventSource"], d["eventName"], d["insightType"]) == (
            "s3.amazonaws.com",
            "GetObject",
            "ApiCallRateInsight",
        )
        assert r["recipientAccountId"] == ACCOUNT and r["eventCategory"] == "Insight"
