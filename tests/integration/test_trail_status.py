"""GetTrailStatus reports delivery failures of a writer in another process (issue 4,
point 3): the API runs in one ``recorder run api`` process, the router and writer in
another, as the Helm chart deploys them. A trail whose bucket is gone shows
``LatestDeliveryError: NoSuchBucket`` while the writer retries (nothing dropped); once
the bucket is back, the held batch is delivered and the error clears."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from loadtest.topicview import live_records
from recorder.stack.local import LocalStack
from tests.integration.helpers import (
    RecorderProcess,
    aws,
    cloudtrail_bucket,
    read_log_files,
    wait_for,
)
from tests.integration.test_api import cloudtrail, start_api

pytestmark = pytest.mark.integration

REGION = "us-east-1"
BUCKET = "status-logs"


def test_delivery_error_reaches_get_trail_status_across_processes(
    stack: LocalStack, tmp_path: Path
) -> None:
    s3 = aws(stack, "s3")
    cloudtrail_bucket(s3, BUCKET)
    api, port = start_api(stack, tmp_path / "api")
    pipeline = RecorderProcess(stack, ["router", "writer"], tmp_path / "pipeline").start()
    try:
        ct = cloudtrail(port, region=REGION)
        arn = ct.create_trail(Name="status-trail", S3BucketName=BUCKET)["TrailARN"]
        ct.start_logging(Name=arn)
        s3.delete_bucket(Bucket=BUCKET)

        request_ids: list[str] = []

        def status() -> dict[str, Any]:
            # each call is itself a management event the API records for this trail
            out = ct.get_trail_status(Name=arn)
            request_ids.append(out.pop("ResponseMetadata")["RequestId"])
            return out

        failing = wait_for(
            lambda: (st := status()).get("LatestDeliveryError") == "NoSuchBucket" and st,
            timeout=45,
            what="GetTrailStatus to report NoSuchBucket",
        )
        assert failing["IsLogging"] is True
        assert "LatestDeliveryTime" not in failing
        assert pipeline.metric("recorder_writer_s3_errors_total") > 0
        held = list(request_ids)  # every call so far was made while the bucket was gone

        cloudtrail_bucket(s3, BUCKET)
        healed = wait_for(
            lambda: "LatestDeliveryError" not in (st := status()) and st,
            timeout=60,
            what="the error to clear once the bucket is back",
        )
        assert healed["LatestDeliveryTime"] is not None

        def delivered() -> list[str]:
            files = read_log_files(stack, BUCKET)
            return [r["requestID"] for records in files.values() for r in records]

        # the events of the calls made while the bucket was missing were held, not dropped
        wait_for(
            lambda: set(held) <= set(delivered()),
            timeout=30,
            what="the held events in S3",
        )
        ids = delivered()
        assert all(ids.count(i) == 1 for i in held)

        # issue 27 item 2: the status key names the writer's seat (the lowest partition
        # of routed it owns), not its pod: a deploy (a new process on the same
        # partitions) writes the same key again instead of adding one per trail
        def keys() -> set[bytes]:
            return {k for k in live_records(stack, "trail-status") if arn.encode() in k}

        seat_key = f"delivery|{arn}|p0".encode()  # the one writer owns every partition
        assert keys() == {seat_key}
        pipeline.stop()
        deployed_at = time.time()
        pipeline = RecorderProcess(stack, ["router", "writer"], tmp_path / "deploy").start()
        before = len(delivered())
        status()  # recorded, delivered by the new writer: its status is published
        wait_for(lambda: len(delivered()) > before, timeout=30, what="a delivery after the deploy")

        def published_at() -> float:
            value = live_records(stack, "trail-status").get(seat_key)
            return float(json.loads(value)["publishedAt"]) if value else 0.0

        wait_for(
            lambda: published_at() > deployed_at,
            timeout=15,
            what="the new writer's status under the same key",
        )
        assert keys() == {seat_key}
        # DeleteTrail: the trail's status keys are tombstoned
        ct.delete_trail(Name=arn)
        wait_for(lambda: not keys(), timeout=30, what="the deleted trail's status keys gone")
    finally:
        pipeline.kill()
        api.kill()
