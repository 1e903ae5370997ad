"""Issue 6 acceptance: the control API as the real clients use it.

``recorder run api`` runs as a subprocess on the real broker and moto; the ``aws`` CLI
goes through the guide's walkthroughs (create-trail ... delete-trail, line 2985-3670)
and boto3 through every operation and every error code a client can get. Two
accounts with their own keys show isolation; the API's own calls show up on
``api-events``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from recorder.stack.local import LocalStack
from recorder.stack.processes import free_port
from tests.integration.helpers import (
    RecorderProcess,
    aws,
    cloudtrail_bucket,
    cloudtrail_key_policy,
    cloudtrail_topic,
    wait_until,
)

pytestmark = pytest.mark.integration

ALICE = "123456789012"  # the local stack's default key: testing/testing
BOB = "222222222222"
BOB_KEY, BOB_SECRET = "AKIDBOBEXAMPLE", "bob-secret"
REGION = "us-east-2"  # the guide's walkthrough region
AWS_CLI = str(Path(sys.executable).with_name("aws"))


def credentials_file(path: Path) -> Path:
    path.write_text(
        json.dumps(
            {
                "credentials": [
                    {"AccessKeyId": "testing", "SecretAccessKey": "testing", "AccountId": ALICE},
                    {
                        "AccessKeyId": BOB_KEY,
                        "SecretAccessKey": BOB_SECRET,
                        "AccountId": BOB,
                        "UserName": "bob",
                    },
                ]
            }
        )
    )
    return path


def start_api(
    stack: LocalStack, work: Path, services: list[str] | None = None, port: int | None = None
) -> tuple[RecorderProcess, int]:
    port = port or free_port()
    work.mkdir(parents=True, exist_ok=True)
    proc = RecorderProcess(
        stack,
        services or ["api"],
        work,
        env={
            "RECORDER_API_PORT": str(port),
            "RECORDER_API_CREDENTIALS_FILE": str(credentials_file(work / "credentials.json")),
            "RECORDER_API_LIST_PAGE_SIZE": "4",
        },
    )
    proc.start()
    return proc, port


def cloudtrail(
    port: int, region: str = REGION, key: str = "testing", secret: str = "testing"
) -> Any:
    return boto3.client(
        "cloudtrail",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name=region,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(retries={"total_max_attempts": 2, "mode": "standard"}),
    )


@dataclass
class Cli:
    """The real ``aws`` CLI pointed at the API."""

    port: int
    work: Path

    def __call__(
        self, *args: str, region: str = REGION, key: str = "testing", secret: str = "testing"
    ) -> tuple[int, Any, str]:
        env = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": key,
            "AWS_SECRET_ACCESS_KEY": secret,
            "AWS_DEFAULT_REGION": region,
            "AWS_CONFIG_FILE": str(self.work / "no-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.work / "no-credentials"),
        }
        env.pop("AWS_PROFILE", None)
        done = subprocess.run(
            [
                AWS_CLI,
                "cloudtrail",
                *args,
                "--endpoint-url",
                f"http://127.0.0.1:{self.port}",
                "--output",
                "json",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        out = json.loads(done.stdout) if done.stdout.strip() else None
        return done.returncode, out, done.stderr


@dataclass
class Env:
    stack: LocalStack
    api: RecorderProcess
    port: int
    work: Path
    kms_key_arn: str

    def cli(self) -> Cli:
        return Cli(self.port, self.work)


@pytest.fixture(scope="module")
def env(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    work = tmp_path_factory.mktemp("api")
    s3 = aws(stack, "s3")
    for bucket in ("my-bucket", "another-bucket", "bob-bucket"):
        cloudtrail_bucket(s3, bucket)
    s3.create_bucket(Bucket="locked-bucket")
    s3.put_bucket_policy(
        Bucket="locked-bucket",
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{ALICE}:root"},
                        "Action": "s3:GetObject",
                        "Resource": "arn:aws:s3:::locked-bucket/*",
                    }
                ],
            }
        ),
    )
    s3.create_bucket(Bucket="policy-bucket")
    s3.put_bucket_policy(
        Bucket="policy-bucket",
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "AWSCloudTrailAclCheck",
                        "Effect": "Allow",
                        "Principal": {"Service": "cloudtrail.amazonaws.com"},
                        "Action": "s3:GetBucketAcl",
                        "Resource": "arn:aws:s3:::policy-bucket",
                    },
                    {
                        "Sid": "AWSCloudTrailWrite",
                        "Effect": "Allow",
                        "Principal": {"Service": "cloudtrail.amazonaws.com"},
                        "Action": "s3:PutObject",
                        "Resource": f"arn:aws:s3:::policy-bucket/AWSLogs/{ALICE}/*",
                    },
                ],
            }
        ),
    )
    for region in (REGION, "us-east-1"):
        sns = boto3.client(
            "sns",
            endpoint_url=stack.aws_endpoint_url,
            region_name=region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        cloudtrail_topic(sns, "my-topic")
    kms = boto3.client(
        "kms",
        endpoint_url=stack.aws_endpoint_url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    key = kms.create_key(Description="trail logs", Policy=cloudtrail_key_policy(ALICE, [ALICE]))[
        "KeyMetadata"
    ]
    kms.create_alias(AliasName="alias/MyKmsKey", TargetKeyId=key["KeyId"])
    api, port = start_api(stack, work)
    try:
        yield Env(stack, api, port, work, key["Arn"])
    finally:
        api.stop()


# -- the guide's CLI walkthroughs -----------------------------------------------------------


def test_cli_create_start_status_update_delete(env: Env) -> None:
    cli = env.cli()
    arn = f"arn:aws:cloudtrail:{REGION}:{ALICE}:trail/my-trail"
    # line 3000 (the guide's "[key=...]" is not valid shorthand; Key=/Value= is)
    rc, out, err = cli(
        "create-trail",
        "--name",
        "my-trail",
        "--s3-bucket-name",
        "my-bucket",
        "--is-multi-region-trail",
        "--tags-list",
        "Key=Group,Value=Marketing",
    )
    assert rc == 0, err
    assert out == {
        "IncludeGlobalServiceEvents": True,
        "Name": "my-trail",
        "TrailARN": arn,
        "LogFileValidationEnabled": False,
        "IsMultiRegionTrail": True,
        "IsOrganizationTrail": False,
        "S3BucketName": "my-bucket",
    }
    # line 3032: no output; line 3038: IsLogging true
    rc, out, err = cli("start-logging", "--name", "my-trail")
    assert (rc, out) == (0, None), err
    rc, status, err = cli("get-trail-status", "--name", "my-trail")
    assert rc == 0, err
    assert status["IsLogging"] is True
    assert isinstance(status["StartLoggingTime"], float)
    assert status["TimeLoggingStarted"].endswith("Z")
    assert status["TimeLoggingStopped"] == ""
    # lines 3121-3214
    rc, out, err = cli("update-trail", "--name", "my-trail", "--no-is-multi-region-trail")
    assert rc == 0, err
    assert out["IsMultiRegionTrail"] is False
    rc, out, err = cli("update-trail", "--name", "my-trail", "--no-include-global-service-events")
    assert (rc, out["IncludeGlobalServiceEvents"]) == (0, False), err
    rc, out, err = cli("update-trail", "--name", "my-trail", "--is-multi-region-trail")
    assert rc == 254 or rc == 255, "a multi-region trail must include global service events"
    assert "InvalidParameterCombinationException" in err
    rc, out, err = cli(
        "update-trail",
        "--name",
        "my-trail",
        "--is-multi-region-trail",
        "--include-global-service-events",
    )
    assert (rc, out["IsMultiRegionTrail"]) == (0, True), err
    rc, out, err = cli("update-trail", "--name", "my-trail", "--enable-log-file-validation")
    assert (rc, out["LogFileValidationEnabled"]) == (0, True), err
    rc, out, err = cli(
        "update-trail",
        "--name",
        "my-trail",
        "--s3-key-prefix",
        "my-prefix",
        "--sns-topic-name",
        "my-topic",
    )
    assert rc == 0, err
    assert (out["S3KeyPrefix"], out["SnsTopicName"]) == ("my-prefix", "my-topic")
    assert out["SnsTopicARN"].endswith(":my-topic")
    # line 11260 / 11290: encrypt with an alias, then stop encrypting
    rc, out, err = cli("update-trail", "--name", "my-trail", "--kms-key-id", "alias/MyKmsKey")
    assert (rc, out.get("KmsKeyId")) == (0, env.kms_key_arn), err
    rc, out, err = cli("update-trail", "--name", "my-trail", "--kms-key-id", "")
    assert rc == 0 and "KmsKeyId" not in out, err
    # line 3255 / 3262: tags
    rc, out, err = cli(
        "add-tags", "--resource-id", arn, "--tags-list", "Key=Owner,Value=Mary", "Key=Name,Value=x"
    )
    assert rc == 0, err
    rc, out, err = cli("remove-tags", "--resource-id", arn, "--tags-list", "Key=Name")
    assert rc == 0, err
    rc, out, err = cli("list-tags", "--resource-id-list", arn)
    assert out == {
        "ResourceTagList": [
            {
                "ResourceId": arn,
                "TagsList": [
                    {"Key": "Group", "Value": "Marketing"},
                    {"Key": "Owner", "Value": "Mary"},
                ],
            }
        ]
    }
    # line 3320 / 3380: describe-trails, get-trail
    rc, out, err = cli("describe-trails")
    assert rc == 0, err
    assert out["trailList"] == [
        {
            "Name": "my-trail",
            "S3BucketName": "my-bucket",
            "S3KeyPrefix": "my-prefix",
            "SnsTopicName": "my-topic",
            "SnsTopicARN": out["trailList"][0]["SnsTopicARN"],
            "IncludeGlobalServiceEvents": True,
            "IsMultiRegionTrail": True,
            "HomeRegion": REGION,
            "TrailARN": arn,
            "LogFileValidationEnabled": True,
            "HasCustomEventSelectors": False,
            "HasInsightSelectors": False,
            "IsOrganizationTrail": False,
        }
    ]
    rc, out, err = cli("get-trail", "--name", "my-trail")
    assert (rc, out["Trail"]["TrailARN"]) == (0, arn), err
    # the multi-region trail is a shadow trail in another region, changed only at home
    rc, out, err = cli("describe-trails", region="eu-west-1")
    assert [t["HomeRegion"] for t in out["trailList"]] == [REGION]
    rc, out, err = cli("stop-logging", "--name", "my-trail", region="eu-west-1")
    assert rc != 0 and "InvalidHomeRegionException" in err
    # line 3655 / 3669
    rc, out, err = cli("stop-logging", "--name", "my-trail")
    assert (rc, out) == (0, None), err
    rc, status, err = cli("get-trail-status", "--name", "my-trail")
    assert status["IsLogging"] is False and status["TimeLoggingStopped"].endswith("Z")
    rc, out, err = cli("delete-trail", "--name", "my-trail")
    assert (rc, out) == (0, None), err
    rc, out, err = cli("get-trail", "--name", "my-trail")
    assert rc != 0
    assert "TrailNotFoundException" in err


def test_cli_event_selectors(env: Env) -> None:
    cli = env.cli()
    arn = f"arn:aws:cloudtrail:{REGION}:{ALICE}:trail/TrailName"
    rc, _, err = cli("create-trail", "--name", "TrailName", "--s3-bucket-name", "my-bucket")
    assert rc == 0, err
    # line 3486: the default selector
    rc, out, err = cli("get-event-selectors", "--trail-name", "TrailName")
    assert out == {
        "EventSelectors": [
            {
                "ExcludeManagementEventSources": [],
                "IncludeManagementEvents": True,
                "DataResources": [],
                "ReadWriteType": "All",
            }
        ],
        "TrailARN": arn,
    }
    # line 3522: S3 and Lambda data events
    selectors = [
        {
            "ReadWriteType": "All",
            "IncludeManagementEvents": True,
            "DataResources": [
                {
                    "Type": "AWS::S3::Object",
                    "Values": ["arn:aws:s3:::mybucket/prefix", "arn:aws:s3:::mybucket2/prefix2"],
                },
                {
                    "Type": "AWS::Lambda::Function",
                    "Values": [
                        "arn:aws:lambda:us-west-2:999999999999:function:hello-world-python-function"
                    ],
                },
            ],
        }
    ]
    rc, out, err = cli(
        "put-event-selectors",
        "--trail-name",
        "TrailName",
        "--event-selectors",
        json.dumps(selectors),
    )
    assert rc == 0, err
    assert out["TrailARN"] == arn
    assert out["EventSelectors"][0]["DataResources"] == selectors[0]["DataResources"]
    rc, got, err = cli("get-event-selectors", "--trail-name", "TrailName")
    assert got["EventSelectors"] == out["EventSelectors"]
    # line 3572: all S3 buckets and all Lambda functions
    everything = [
        {
            "ReadWriteType": "All",
            "IncludeManagementEvents": True,
            "DataResources": [
                {"Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::"]},
                {"Type": "AWS::Lambda::Function", "Values": ["arn:aws:lambda"]},
            ],
        }
    ]
    rc, out, err = cli(
        "put-event-selectors",
        "--trail-name",
        "TrailName",
        "--event-selectors",
        json.dumps(everything),
    )
    assert rc == 0, err
    # line 3621 / 3643: exclude KMS events, then include them again
    no_kms = '[{"ReadWriteType": "All", "ExcludeManagementEventSources": ["kms.amazonaws.com"], "IncludeManagementEvents": true}]'
    rc, out, err = cli(
        "put-event-selectors", "--trail-name", "TrailName", "--event-selectors", no_kms
    )
    assert rc == 0, err
    assert out["EventSelectors"][0]["ExcludeManagementEventSources"] == ["kms.amazonaws.com"]
    assert out["EventSelectors"][0]["IncludeManagementEvents"] is True
    rc, out, err = cli(
        "put-event-selectors",
        "--trail-name",
        "TrailName",
        "--event-selectors",
        '[{"ReadWriteType": "All", "ExcludeManagementEventSources": [], "IncludeManagementEvents": true}]',
    )
    assert rc == 0 and out["EventSelectors"][0]["ExcludeManagementEventSources"] == [], err
    # advanced selectors replace basic ones
    advanced = [
        {
            "Name": "S3 writes",
            "FieldSelectors": [
                {"Field": "eventCategory", "Equals": ["Data"]},
                {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
                {"Field": "readOnly", "Equals": ["false"]},
            ],
        }
    ]
    rc, out, err = cli(
        "put-event-selectors",
        "--trail-name",
        "TrailName",
        "--advanced-event-selectors",
        json.dumps(advanced),
    )
    assert rc == 0, err
    rc, got, err = cli("get-event-selectors", "--trail-name", "TrailName")
    assert "EventSelectors" not in got
    assert got["AdvancedEventSelectors"][0]["Name"] == "S3 writes"
    # six selectors: InvalidEventSelectorsException (1 to 5, line 3509)
    rc, out, err = cli(
        "put-event-selectors",
        "--trail-name",
        "TrailName",
        "--event-selectors",
        json.dumps([{"ReadWriteType": "All"}] * 6),
    )
    assert rc != 0 and "InvalidEventSelectorsException" in err
    rc, _, err = cli("delete-trail", "--name", arn)
    assert rc == 0, err


# -- boto3: every operation, every error code ----------------------------------------------


def client_error(fn: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as info:
        fn(*args, **kwargs)
    return str(info.value.response["Error"]["Code"])


def test_boto3_errors(env: Env) -> None:
    ct = cloudtrail(env.port, region="eu-west-1")
    ct.create_trail(Name="trail0", S3BucketName="my-bucket")
    cases: list[tuple[str, dict[str, Any], str]] = [
        (
            "create_trail",
            {"Name": "trail0", "S3BucketName": "my-bucket"},
            "TrailAlreadyExistsException",
        ),
        (
            "create_trail",
            {"Name": "my-_trail", "S3BucketName": "my-bucket"},
            "InvalidTrailNameException",
        ),
        (
            "create_trail",
            {"Name": "192.168.5.4", "S3BucketName": "my-bucket"},
            "InvalidTrailNameException",
        ),
        (
            "create_trail",
            {"Name": "trail1", "S3BucketName": "no-such-bucket"},
            "S3BucketDoesNotExistException",
        ),
        (
            "create_trail",
            {"Name": "trail1", "S3BucketName": "Bad_Bucket"},
            "InvalidS3BucketNameException",
        ),
        (
            "create_trail",
            {"Name": "trail1", "S3BucketName": "locked-bucket"},
            "InsufficientS3BucketPolicyException",
        ),
        (
            "create_trail",
            {"Name": "trail1", "S3BucketName": "policy-bucket", "S3KeyPrefix": "elsewhere"},
            "InsufficientS3BucketPolicyException",
        ),
        (
            "create_trail",
            {"Name": "trail1", "S3BucketName": "my-bucket", "S3KeyPrefix": "p" * 201},
            "InvalidS3PrefixException",
        ),
        (
            "create_trail",
            {"Name": "trail1", "S3BucketName": "my-bucket", "SnsTopicName": "no-topic"},
            "InsufficientSnsTopicPolicyException",
        ),
        (
            "create_trail",
            {"Name": "trail1", "S3BucketName": "my-bucket", "KmsKeyId": "alias/NoSuchKey"},
            "KmsKeyNotFoundException",
        ),
        (
            "create_trail",
            {"Name": "trail1", "S3BucketName": "my-bucket", "KmsKeyId": "alias/aws-bad"},
            "InvalidKmsKeyIdException",
        ),
        ("get_trail", {"Name": "absent"}, "TrailNotFoundException"),
        ("get_trail", {"Name": "arn:aws:cloudtrail:bad"}, "CloudTrailARNInvalidException"),
        ("get_trail_status", {"Name": "absent"}, "TrailNotFoundException"),
        ("delete_trail", {"Name": "absent"}, "TrailNotFoundException"),
        ("start_logging", {"Name": "absent"}, "TrailNotFoundException"),
        (
            "put_event_selectors",
            {
                "TrailName": "trail0",
                "EventSelectors": [
                    {
                        "ReadWriteType": "All",
                        "DataResources": [{"Type": "AWS::S3::Object", "Values": ["not-an-arn"]}],
                    }
                ],
            },
            "InvalidEventSelectorsException",
        ),
        (
            "put_insight_selectors",
            {"TrailName": "trail0", "InsightSelectors": [{"InsightType": "Nope"}]},
            "InvalidInsightSelectorsException",
        ),
        (
            "add_tags",
            {
                "ResourceId": f"arn:aws:cloudtrail:eu-west-1:{ALICE}:trail/absent",
                "TagsList": [{"Key": "k"}],
            },
            "ResourceNotFoundException",
        ),
        (
            "list_public_keys",
            {"StartTime": 2_000_000_000, "EndTime": 1_000_000_000},
            "InvalidTimeRangeException",
        ),
    ]
    for method, params, code in cases:
        assert client_error(getattr(ct, method), **params) == code, (method, params)
    # the modelled classes are raised
    with pytest.raises(ct.exceptions.TrailNotFoundException):
        ct.get_trail(Name="absent")
    # bucket with a sufficient policy, topic and key by name
    out = ct.create_trail(Name="trail1", S3BucketName="policy-bucket")
    assert out["S3BucketName"] == "policy-bucket"
    # five per region; a sixth is refused, in any region a multi-region trail reaches
    for i in range(2, 5):
        ct.create_trail(Name=f"trail{i}", S3BucketName="my-bucket")
    assert client_error(ct.create_trail, Name="trail5", S3BucketName="my-bucket") == (
        "MaximumNumberOfTrailsExceededException"
    )
    west = cloudtrail(env.port, region="us-west-1")
    assert client_error(
        west.create_trail, Name="trail-m", S3BucketName="my-bucket", IsMultiRegionTrail=True
    ) == ("MaximumNumberOfTrailsExceededException")
    west.create_trail(Name="trail-m", S3BucketName="my-bucket")
    # home region
    ct.update_trail(Name="trail0", IsMultiRegionTrail=True)
    assert client_error(
        west.delete_trail, Name=f"arn:aws:cloudtrail:eu-west-1:{ALICE}:trail/trail0"
    ) == ("InvalidHomeRegionException")
    for i in range(5):
        ct.delete_trail(Name=f"trail{i}")
    west.delete_trail(Name="trail-m")


def test_boto3_every_operation(env: Env) -> None:
    ct = cloudtrail(env.port, region="us-east-1")
    out = ct.create_trail(
        Name="ops-trail",
        S3BucketName="my-bucket",
        S3KeyPrefix="logs",
        SnsTopicName="my-topic",
        EnableLogFileValidation=True,
        TagsList=[{"Key": "team", "Value": "sec"}],
    )
    arn = out["TrailARN"]
    assert out["SnsTopicARN"] == f"arn:aws:sns:us-east-1:{ALICE}:my-topic"
    assert ct.get_trail(Name=arn)["Trail"]["S3KeyPrefix"] == "logs"
    assert [t["Name"] for t in ct.describe_trails(trailNameList=["ops-trail"])["trailList"]] == [
        "ops-trail"
    ]
    ct.start_logging(Name="ops-trail")
    assert ct.get_trail_status(Name="ops-trail")["IsLogging"] is True
    ct.stop_logging(Name="ops-trail")
    status = ct.get_trail_status(Name="ops-trail")
    assert status["IsLogging"] is False and status["StopLoggingTime"] >= status["StartLoggingTime"]
    put = ct.put_event_selectors(
        TrailName="ops-trail",
        EventSelectors=[{"ReadWriteType": "WriteOnly", "IncludeManagementEvents": True}],
    )
    assert put["EventSelectors"][0]["ReadWriteType"] == "WriteOnly"
    assert ct.get_event_selectors(TrailName="ops-trail")["EventSelectors"][0]["ReadWriteType"] == (
        "WriteOnly"
    )
    ct.add_tags(ResourceId=arn, TagsList=[{"Key": "env", "Value": "prod"}])
    ct.remove_tags(ResourceId=arn, TagsList=[{"Key": "team"}])
    assert ct.list_tags(ResourceIdList=[arn])["ResourceTagList"][0]["TagsList"] == [
        {"Key": "env", "Value": "prod"}
    ]
    assert ct.list_public_keys()["PublicKeyList"] == []
    # ListTrails: every region, paged (page size 4 in this module)
    made = {arn}
    for region in ("us-east-2", "eu-central-1"):
        c = cloudtrail(env.port, region=region)
        for i in range(3):
            made.add(c.create_trail(Name=f"page{i}", S3BucketName="my-bucket")["TrailARN"])
    pages = list(ct.get_paginator("list_trails").paginate())
    listed = {t["TrailARN"] for p in pages for t in p["Trails"]}
    assert made <= listed
    assert len(pages) >= 2
    for region in ("us-east-2", "eu-central-1"):
        c = cloudtrail(env.port, region=region)
        for i in range(3):
            c.delete_trail(Name=f"page{i}")
    ct.delete_trail(Name="ops-trail")


# -- isolation and authentication -------------------------------------------------------------


def test_accounts_are_isolated(env: Env) -> None:
    alice = cloudtrail(env.port)
    bob = cloudtrail(env.port, key=BOB_KEY, secret=BOB_SECRET)
    a_arn = alice.create_trail(Name="shared-name", S3BucketName="my-bucket")["TrailARN"]
    b_arn = bob.create_trail(Name="shared-name", S3BucketName="bob-bucket")["TrailARN"]
    assert a_arn.split(":")[4] == ALICE and b_arn.split(":")[4] == BOB
    assert [t["TrailARN"] for t in bob.describe_trails()["trailList"]] == [b_arn]
    assert [t["TrailARN"] for t in bob.list_trails()["Trails"]] == [b_arn]
    assert bob.describe_trails(trailNameList=[a_arn])["trailList"] == []
    for call, params in (
        (bob.get_trail, {"Name": a_arn}),
        (bob.get_trail_status, {"Name": a_arn}),
        (bob.update_trail, {"Name": a_arn, "S3BucketName": "bob-bucket"}),
        (bob.stop_logging, {"Name": a_arn}),
        (bob.delete_trail, {"Name": a_arn}),
        (bob.get_event_selectors, {"TrailName": a_arn}),
    ):
        assert client_error(call, **params) == "TrailNotFoundException"
    assert client_error(bob.list_tags, ResourceIdList=[a_arn]) == "ResourceNotFoundException"
    # Alice's trail is untouched; Bob's own name resolves to his
    assert alice.get_trail(Name="shared-name")["Trail"]["S3BucketName"] == "my-bucket"
    assert bob.get_trail(Name="shared-name")["Trail"]["S3BucketName"] == "bob-bucket"
    alice.delete_trail(Name="shared-name")
    bob.delete_trail(Name="shared-name")


def test_bad_signatures_are_rejected(env: Env) -> None:
    cli = env.cli()
    rc, _, err = cli("describe-trails", secret="wrong")
    assert rc != 0 and "InvalidSignatureException" in err
    rc, _, err = cli("describe-trails", key="AKIDNOBODY")
    assert rc != 0 and "UnrecognizedClientException" in err
    assert (
        client_error(cloudtrail(env.port, key=BOB_KEY, secret="testing").list_trails)
        == "InvalidSignatureException"
    )
    # a request signed ten minutes ago (botocore's own signer, its clock moved back)
    import datetime as dt
    import urllib.error
    import urllib.request
    from unittest import mock

    past = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=10)
    with (
        mock.patch("botocore.auth.get_current_datetime", return_value=past),
        pytest.raises(ClientError) as expired,
    ):
        cloudtrail(env.port).list_trails()
    assert expired.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert expired.value.response["Error"]["Message"].startswith("Signature expired: ")

    req = urllib.request.Request(
        f"http://127.0.0.1:{env.port}/",
        data=b"{}",
        headers={"X-Amz-Target": "CloudTrail_20131101.ListTrails"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(req, timeout=5)
    assert json.loads(info.value.read())["__type"] == "MissingAuthenticationTokenException"


# -- the API records itself --------------------------------------------------------------------


def test_api_calls_are_recorded(env: Env) -> None:
    import asyncio

    from aiokafka import AIOKafkaConsumer, TopicPartition

    from recorder.events import decode

    ct = cloudtrail(env.port)
    ct.create_trail(Name="recorded", S3BucketName="my-bucket")
    client_error(ct.get_trail, Name="not-there")
    ct.delete_trail(Name="recorded")

    async def read() -> list[dict[str, Any]]:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=env.stack.bootstrap_servers, enable_auto_commit=False
        )
        await consumer.start()
        try:
            parts = [
                TopicPartition("api-events", p)
                for p in consumer.partitions_for_topic("api-events") or {0}
            ]
            consumer.assign(parts)
            await consumer.seek_to_beginning(*parts)
            end = await consumer.end_offsets(parts)
            out = []
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                batch = await consumer.getmany(timeout_ms=500)
                for msgs in batch.values():
                    out.extend(decode(m.value) for m in msgs)
                positions = [await consumer.position(p) for p in parts]
                if all(pos >= end[p] for pos, p in zip(positions, parts, strict=True)):
                    break
            return out
        finally:
            await consumer.stop()

    def mine() -> list[dict[str, Any]]:
        records = asyncio.run(read())
        return [
            r
            for r in records
            if r["eventSource"] == "cloudtrail.amazonaws.com"
            and (r.get("requestParameters") or {}).get("name") in ("recorded", "not-there")
        ]

    records = wait_until(lambda: len(r := mine()) >= 3 and r, 20, message="the 3 records")
    by_name = {r["eventName"]: r for r in records}
    create = by_name["CreateTrail"]
    assert create["readOnly"] is False
    assert create["userIdentity"]["accountId"] == ALICE
    assert create["recipientAccountId"] == ALICE
    assert create["awsRegion"] == REGION
    assert create["responseElements"]["trailARN"].endswith(":trail/recorded")
    failed = by_name["GetTrail"]
    assert failed["errorCode"] == "TrailNotFoundException"
    assert failed["readOnly"] is True
    assert "DeleteTrail" in by_name
    metrics = env.api.metrics()
    assert 'recorder_api_audit_events_total{outcome="sent"}' in metrics
    assert (
        'recorder_api_requests_total{code="TrailNotFoundException",operation="GetTrail",'
        'status="400"}' in metrics
    )
