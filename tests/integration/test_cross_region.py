"""Issue 28 item 5: the control API's Region rules, through boto3 and the ``aws`` CLI.

From eu-west-1, a us-east-1 single-Region trail is reached by its ARN (the API
reference, DescribeTrails: "To return information about a trail in another Region, you
must specify its trail ARN"): DescribeTrails, GetTrail and GetTrailStatus answer it;
UpdateTrail, PutEventSelectors and DeleteTrail answer ``InvalidHomeRegionException``
("must be called from the Region in which the trail was created"); by name it is not
found there. GetInsightSelectors of a trail without Insights answers
``InsightNotEnabledException``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from recorder.stack.local import LocalStack
from recorder.stack.processes import free_port
from tests.integration.helpers import RecorderProcess, aws, cloudtrail_bucket

pytestmark = pytest.mark.integration

ACCOUNT = "123456789012"
AWS_CLI = str(Path(sys.executable).with_name("aws"))
BUCKET = "cross-region-logs"


@pytest.fixture(scope="module")
def api(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    work = tmp_path_factory.mktemp("cross-region")
    port = free_port()
    proc = RecorderProcess(
        stack,
        ["api"],
        work,
        # the test makes a dozen writes in a few seconds: above the 1/s per-account rate
        env={
            "RECORDER_API_PORT": str(port),
            "RECORDER_API_WRITE_RATE": "20",
            "RECORDER_API_WRITE_BURST": "20",
        },
    ).start()
    try:
        yield port
    finally:
        proc.stop()


def _client(port: int, region: str) -> Any:
    return boto3.client(
        "cloudtrail",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _cli(port: int, tmp: Path, region: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": region,
        "AWS_CONFIG_FILE": str(tmp / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp / "no-credentials"),
    }
    env.pop("AWS_PROFILE", None)
    return subprocess.run(
        [AWS_CLI, "cloudtrail", *args, "--endpoint-url", f"http://127.0.0.1:{port}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_another_regions_trail_by_arn_with_boto3_and_the_cli(
    stack: LocalStack, api: int, tmp_path: Path
) -> None:
    cloudtrail_bucket(aws(stack, "s3"), BUCKET, f"arn:aws:s3:::{BUCKET}/AWSLogs/{ACCOUNT}/*")
    east, west = _client(api, "us-east-1"), _client(api, "eu-west-1")
    arn = east.create_trail(Name="east-only", S3BucketName=BUCKET)["TrailARN"]
    assert arn == f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/east-only"
    east.start_logging(Name=arn)

    # reads by ARN from eu-west-1 (boto3)
    assert [t["TrailARN"] for t in west.describe_trails(trailNameList=[arn])["trailList"]] == [arn]
    assert west.describe_trails(trailNameList=["east-only"])["trailList"] == []
    assert west.describe_trails()["trailList"] == []  # no shadow: a single-Region trail
    assert west.get_trail(Name=arn)["Trail"]["HomeRegion"] == "us-east-1"
    assert west.get_trail_status(Name=arn)["IsLogging"] is True
    with pytest.raises(west.exceptions.TrailNotFoundException):
        west.get_trail(Name="east-only")

    # writes by ARN from eu-west-1: the home region rule (boto3)
    with pytest.raises(west.exceptions.InvalidHomeRegionException):
        west.update_trail(Name=arn, S3KeyPrefix="elsewhere")
    with pytest.raises(west.exceptions.InvalidHomeRegionException):
        west.put_event_selectors(TrailName=arn, EventSelectors=[{"ReadWriteType": "WriteOnly"}])
    with pytest.raises(west.exceptions.InvalidHomeRegionException):
        west.delete_trail(Name=arn)
    # ... and nothing changed
    trail = east.get_trail(Name="east-only")["Trail"]
    assert "S3KeyPrefix" not in trail and trail["HasCustomEventSelectors"] is False

    with pytest.raises(west.exceptions.InsightNotEnabledException) as err:
        west.get_insight_selectors(TrailName=arn)
    assert f"Trail {arn} does not have Insights enabled." in str(err.value)

    # the same through the aws CLI (each run costs seconds: the reads and writes that
    # differ most from before)
    got = _cli(api, tmp_path, "eu-west-1", "describe-trails", "--trail-name-list", arn)
    assert got.returncode == 0, got.stderr
    assert [t["TrailARN"] for t in json.loads(got.stdout)["trailList"]] == [arn]
    got = _cli(api, tmp_path, "eu-west-1", "get-trail-status", "--name", arn)
    assert got.returncode == 0 and json.loads(got.stdout)["IsLogging"] is True
    for args in (
        ("update-trail", "--name", arn, "--s3-key-prefix", "elsewhere"),
        ("delete-trail", "--name", arn),
    ):
        refused = _cli(api, tmp_path, "eu-west-1", *args)
        assert refused.returncode != 0 and "(InvalidHomeRegionException)" in refused.stderr, args

    # from its home region it is deleted
    east.delete_trail(Name=arn)
    with pytest.raises(west.exceptions.TrailNotFoundException):
        west.get_trail(Name=arn)
