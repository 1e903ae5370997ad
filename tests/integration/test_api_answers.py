"""Issue 13 item 8: the control API answers as AWS does, code and message, word for
word (recorder.trails.errors.ANSWERS says where each wording is on record), through
boto3 and the ``aws`` CLI. The strings are spelled out here, not read from the table:
the test pins AWS's words, not whatever the table holds."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from recorder.stack.local import LocalStack
from recorder.stack.processes import free_port
from tests.integration.helpers import RecorderProcess, aws, cloudtrail_bucket

pytestmark = pytest.mark.integration

ACCOUNT = "123456789012"
REGION = "us-west-2"
AWS_CLI = str(Path(sys.executable).with_name("aws"))
CHARS = (
    "Trail name or ARN can only contain uppercase letters, lowercase letters, numbers, "
    "periods (.), hyphens (-), and underscores (_)."
)


@pytest.fixture(scope="module")
def port(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    work = tmp_path_factory.mktemp("answers")
    s3 = aws(stack, "s3")
    cloudtrail_bucket(s3, "answers-bucket")
    s3.create_bucket(Bucket="answers-locked")
    s3.put_bucket_policy(
        Bucket="answers-locked",
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                        "Action": "s3:GetObject",
                        "Resource": "arn:aws:s3:::answers-locked/*",
                    }
                ],
            }
        ),
    )
    p = free_port()
    proc = RecorderProcess(stack, ["api"], work, env={"RECORDER_API_PORT": str(p)}).start()
    try:
        yield p
    finally:
        proc.stop()


def _ct(port: int) -> Any:
    return boto3.client(
        "cloudtrail",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}),
    )


def _error(call: Any, **params: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as info:
        call(**params)
    err = info.value.response["Error"]
    return err["Code"], err["Message"]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "ab",
            "Trail name too short. Minimum allowed length: 3 characters. "
            "Specified name length: 2 characters.",
        ),
        (
            "t" * 129,
            "Trail name too long. Maximum allowed length: 128 characters. "
            "Specified name length: 129 characters.",
        ),
        ("my#trail", CHARS),
        ("-trail", "Trail name must starts with a letter or number."),
        ("trail-", "Trail name must ends with a letter or number."),
        (
            "my-_trail",
            "Trail name or ARN cannot have adjacent periods (.), hyphens (-), or underscores (_).",
        ),
    ],
)
def test_invalid_trail_name_answers(port: int, name: str, message: str) -> None:
    assert _error(_ct(port).create_trail, Name=name, S3BucketName="answers-bucket") == (
        "InvalidTrailNameException",
        message,
    )


def test_destination_and_lookup_answers(port: int) -> None:
    ct = _ct(port)
    assert _error(ct.create_trail, Name="answers", S3BucketName="no-such-answers-bucket") == (
        "S3BucketDoesNotExistException",
        "S3 bucket no-such-answers-bucket does not exist!",
    )
    assert _error(
        ct.create_trail, Name="answers", S3BucketName="answers-bucket", SnsTopicName="no-topic"
    ) == (
        "InsufficientSnsTopicPolicyException",
        "SNS Topic does not exist or the topic policy is incorrect!",
    )
    assert _error(ct.create_trail, Name="answers", S3BucketName="answers-locked") == (
        "InsufficientS3BucketPolicyException",
        "Incorrect S3 bucket policy is detected for bucket: answers-locked",
    )
    assert _error(
        ct.create_trail,
        Name="answers",
        S3BucketName="answers-bucket",
        IsMultiRegionTrail=True,
        IncludeGlobalServiceEvents=False,
    ) == (
        "InvalidParameterCombinationException",
        "Multi-Region trail must include global service events.",
    )
    # GetTrail names the trail as given; GetTrailStatus the ARN it would have
    assert _error(ct.get_trail, Name="Missing-Trail") == (
        "TrailNotFoundException",
        f"Unknown trail: Missing-Trail for the user: {ACCOUNT}",
    )
    assert _error(ct.get_trail_status, Name="Missing-Trail") == (
        "TrailNotFoundException",
        f"Unknown trail: arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/Missing-Trail "
        f"for the user: {ACCOUNT}",
    )
    ct.create_trail(Name="answers", S3BucketName="answers-bucket")
    try:
        assert _error(ct.create_trail, Name="answers", S3BucketName="answers-bucket") == (
            "TrailAlreadyExistsException",
            f"Trail answers already exists for customer: {ACCOUNT}",
        )
        for i in range(4):
            ct.create_trail(Name=f"answers-{i}", S3BucketName="answers-bucket")
        assert _error(ct.create_trail, Name="answers-5", S3BucketName="answers-bucket") == (
            "MaximumNumberOfTrailsExceededException",
            f"User: {ACCOUNT} already has 5 trails in {REGION}.",
        )
    finally:
        for name in ("answers", *(f"answers-{i}" for i in range(4))):
            with contextlib.suppress(ct.exceptions.TrailNotFoundException):
                ct.delete_trail(Name=name)


def test_cli_shows_aws_words(port: int, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
    }
    env.pop("AWS_PROFILE", None)
    done = subprocess.run(
        [
            AWS_CLI,
            "cloudtrail",
            "get-trail",
            "--name",
            "Absent.Trail",
            "--endpoint-url",
            f"http://127.0.0.1:{port}",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert (
        "An error occurred (TrailNotFoundException) when calling the GetTrail operation: "
        f"Unknown trail: Absent.Trail for the user: {ACCOUNT}"
    ) in done.stderr
