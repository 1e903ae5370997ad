"""What counts as a sufficient bucket policy (InsufficientS3BucketPolicyException)."""

from __future__ import annotations

import json

import pytest

from recorder.api.checks import object_arn, policy_allows_cloudtrail

ACCOUNT = "123456789012"


def policy(*statements: dict[str, object]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


# The guide's CloudTrail bucket policy (line ~ "Amazon S3 Bucket Policy for CloudTrail").
GUIDE_WRITE = {
    "Sid": "AWSCloudTrailWrite",
    "Effect": "Allow",
    "Principal": {"Service": "cloudtrail.amazonaws.com"},
    "Action": "s3:PutObject",
    "Resource": f"arn:aws:s3:::my-bucket/AWSLogs/{ACCOUNT}/*",
    "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}},
}


def test_guide_policy_is_sufficient() -> None:
    assert policy_allows_cloudtrail(policy(GUIDE_WRITE), "my-bucket", None, ACCOUNT)


def test_prefix_must_be_covered() -> None:
    assert not policy_allows_cloudtrail(policy(GUIDE_WRITE), "my-bucket", "logs", ACCOUNT)
    wide = {**GUIDE_WRITE, "Resource": ["arn:aws:s3:::my-bucket/*"]}
    assert policy_allows_cloudtrail(policy(wide), "my-bucket", "logs", ACCOUNT)


@pytest.mark.parametrize(
    "change",
    [
        {"Principal": {"Service": "s3.amazonaws.com"}},
        {"Action": "s3:GetObject"},
        {"Resource": "arn:aws:s3:::my-bucket/AWSLogs/999999999999/*"},
        {"Effect": "Deny"},
    ],
)
def test_insufficient(change: dict[str, object]) -> None:
    assert not policy_allows_cloudtrail(
        policy({**GUIDE_WRITE, **change}), "my-bucket", None, ACCOUNT
    )


def test_explicit_deny_wins() -> None:
    deny = {**GUIDE_WRITE, "Effect": "Deny"}
    assert not policy_allows_cloudtrail(policy(GUIDE_WRITE, deny), "my-bucket", None, ACCOUNT)


def test_wildcards_and_lists() -> None:
    st = {
        "Effect": "Allow",
        "Principal": {"Service": ["sns.amazonaws.com", "cloudtrail.amazonaws.com"]},
        "Action": ["s3:Get*", "s3:*"],
        "Resource": "*",
    }
    assert policy_allows_cloudtrail(policy(st), "my-bucket", "p", ACCOUNT)
    assert not policy_allows_cloudtrail("not json", "my-bucket", None, ACCOUNT)


def test_object_arn() -> None:
    assert object_arn("b", "p/q", ACCOUNT) == f"arn:aws:s3:::b/p/q/AWSLogs/{ACCOUNT}/x"
