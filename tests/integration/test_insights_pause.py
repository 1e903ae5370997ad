"""Issue 27 acceptance: a broker pause in steady traffic produces no Insights event.

Steady SNS ``CreateTopic`` calls through the producer hook into an account with
Insights on; ``recorder run insights`` learns the baseline; then the broker is paused
(SIGSTOP to its process group) while the calls go on, and resumed. While it is away
the producer keeps the calls in its journal and the stage can fetch nothing; closing
intervals on the wall clock would close the paused ones empty (a drop to zero: a
false Start, and an End once the calls are back). Intervals close by event time
instead, and not at all while the broker is away or during the grace after it is
back: the held-back calls fill their own intervals, each counted once (the batch in
flight at the pause is sent again from the journal), none late, and no Insights event
is decided.

Time-scaled: 1-second intervals and a pause of 15 of them stand for minutes and a
90-second pause (`bench/tenants.py` and the README give the unscaled setting); the
lateness (6 s) exceeds the time the stage takes to see the broker gone (twice the
poll linger, 1 s here like the other scaled settings, plus 3 s), as a minute does in
production.
"""

from __future__ import annotations

import os
import signal
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
STEADY = 5  # calls a second
PAUSE = 15  # seconds (intervals)
ENV = {
    "RECORDER_INSIGHTS_BUCKET_SECONDS": "1",
    "RECORDER_INSIGHTS_BASELINE_WINDOW": "8",
    "RECORDER_INSIGHTS_THRESHOLD": "8",
    "RECORDER_INSIGHTS_LATENESS": "6",
    "RECORDER_POLL_LINGER": "1",
    "RECORDER_INSIGHTS_GRACE": "8",
}


def _pace(sns: Any, seconds: float) -> int:
    """``STEADY`` calls at the start of each second; the number made."""
    made = 0
    end = time.time() + seconds
    while time.time() < end:
        tick = int(time.time())
        for _ in range(STEADY):
            sns.create_topic(Name="steady")
            made += 1
        let_time_pass(max(0.0, tick + 1 - time.time()), "to the next second's interval")
    return made


def test_broker_pause_in_steady_traffic_gives_no_insights_event(
    stack: LocalStack, tmp_path: Path
) -> None:
    cloudtrail_bucket(aws(stack, "s3"), "pause-logs")
    trails = write_trails(
        tmp_path / "trails.json",
        [
            {
                "Name": "insights",
                "TrailARN": f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/insights",
                "HomeRegion": REGION,
                "S3BucketName": "pause-logs",
                "InsightSelectors": [{"InsightType": "ApiCallRateInsight"}],
            }
        ],
    )
    env = {"RECORDER_TRAILS_FILE": str(trails), **ENV}
    insights = RecorderProcess(stack, ["insights"], tmp_path / "insights", env=env).start()
    sink = KafkaEventSink.from_settings(stack.settings(), journal_dir=tmp_path / "journal")
    session = boto3.Session(
        region_name=REGION, aws_access_key_id="AKIAIOSFODNN7EXAMPLE", aws_secret_access_key="x"
    )
    install(session, sink, identity=Identity(account_id=ACCOUNT, user_name="Alice"))
    sns = session.client("sns", endpoint_url=stack.aws_endpoint_url)
    assert stack.broker is not None and stack.broker.pid is not None
    broker = stack.broker.pid
    paused = False
    try:
        made = _pace(sns, 16)  # learning (8 intervals) after the stage's grace
        wait_for(
            lambda: insights.metric("recorder_insights_calls_total") >= made - 2 * STEADY,
            30,
            what="the steady calls counted",
        )
        os.killpg(broker, signal.SIGSTOP)
        paused = True
        made += _pace(sns, PAUSE)
        os.killpg(broker, signal.SIGCONT)
        paused = False
        made += _pace(sns, 16)  # the grace, the lateness, and steady intervals after
        assert sink.flush(60)
        wait_for(
            lambda: insights.metric("recorder_insights_calls_total") >= made,
            60,
            what=f"every call counted ({made} made)",
        )
        let_time_pass(7, "the last intervals close (lateness 6 s)")
        assert insights.metric("recorder_insights_calls_total") == made  # each once
        assert insights.metric("recorder_insights_late_calls_total") == 0
        assert insights.metric("recorder_insights_events_total") == 0
    finally:
        if paused:
            os.killpg(broker, signal.SIGCONT)
        sink.close()
        insights.stop()
