"""``recorder demo insights``: an Insights pair on the quick start's stack.

Turns ``ApiCallRateInsight`` on for the demo trail through the control API, makes
SNS ``CreateTopic`` calls with the producer hook installed at a steady rate while the
baseline is learned, then a burst, then the steady rate again, and prints the Start
and End events from the trail's ``CloudTrail-Insight/`` files. It needs a recorder
whose Insights stage counts in seconds, not minutes: ``make run`` starts one with
``RECORDER_INSIGHTS_BUCKET_SECONDS=2`` and a 10-interval baseline (a laptop setting;
the defaults are AWS's minute and seven days).
"""

from __future__ import annotations

import gzip
import json
import sys
import time
from pathlib import Path
from typing import Any

from recorder.settings import Settings

STEADY, BURST = 3, 40  # calls a second
#: What ``make run`` gives its recorder (Makefile): 2-second intervals, a baseline of
#: 10 of them, closed 2 seconds after they end.
BUCKET_SECONDS, WINDOW, LATENESS = 2, 10, 2


def run_demo(
    settings: Settings,
    url: str,
    *,
    account: str,
    region: str,
    trail: str,
    bucket: str,
    journal_dir: Path = Path(".stack/journal"),
) -> int:
    import boto3

    from recorder.producer import Identity, KafkaEventSink, install

    ct = boto3.client(
        "cloudtrail",
        endpoint_url=url,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    ct.put_insight_selectors(
        TrailName=trail, InsightSelectors=[{"InsightType": "ApiCallRateInsight"}]
    )
    print(
        f"Insights on for {trail}: {ct.get_insight_selectors(TrailName=trail)['InsightSelectors']}"
    )
    sink = KafkaEventSink.from_settings(settings, journal_dir=journal_dir)
    session = boto3.Session(
        **{k: v for k, v in settings.aws_client_kwargs().items() if k != "endpoint_url"}
    )
    install(session, sink, identity=Identity(account_id=account, user_name="Alice"))
    sns = session.client("sns", endpoint_url=settings.aws_endpoint_url or None)
    learn = WINDOW * BUCKET_SECONDS + 6
    print(f"{STEADY} CreateTopic calls a second for {learn} s (the baseline) ...")
    _pace(sns, STEADY, learn)
    print(f"a burst: {BURST} a second for 4 s, then {STEADY} a second again ...")
    _pace(sns, BURST, 4)
    _pace(sns, STEADY, 4 * BUCKET_SECONDS + LATENESS + 2)
    sink.close(timeout=30)
    s3 = boto3.client("s3", **settings.aws_client_kwargs())
    deadline = time.time() + 60 + settings.cut_interval
    while time.time() < deadline:
        keys, records = _insight_records(s3, bucket, account)
        if {r["insightDetails"]["state"] for r in records} >= {"Start", "End"}:
            for key in keys:
                print(f"Insights file: s3://{bucket}/{key}")
            for r in records:
                print(json.dumps(r, indent=2))
            return 0
        time.sleep(1)
    print(
        f"no Insights pair in s3://{bucket} in time; the recorder needs "
        f"RECORDER_INSIGHTS_BUCKET_SECONDS={BUCKET_SECONDS} "
        f"RECORDER_INSIGHTS_BASELINE_WINDOW={WINDOW} (make run sets them); see .stack/logs/",
        file=sys.stderr,
    )
    return 1


def _pace(sns: Any, per_second: int, seconds: float) -> None:
    end = time.time() + seconds
    while time.time() < end:
        tick = int(time.time())
        for _ in range(per_second):
            sns.create_topic(Name="demo-insights")
        time.sleep(max(0.0, tick + 1 - time.time()))


def _insight_records(s3: Any, bucket: str, account: str) -> tuple[list[str], list[dict[str, Any]]]:
    listing = s3.list_objects_v2(Bucket=bucket, Prefix=f"AWSLogs/{account}/CloudTrail-Insight/")
    keys = sorted(o["Key"] for o in listing.get("Contents", []))
    out: list[dict[str, Any]] = []
    for key in keys:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        out += json.loads(gzip.decompress(body))["Records"]
    return keys, sorted(
        out, key=lambda r: (r["eventTime"], r["insightDetails"]["state"] != "Start")
    )
