"""What counts as a grant to CloudTrail, with the guide's own policies as the baseline."""

from __future__ import annotations

import json
from typing import Any

import pytest

from recorder.policies import (
    Decision,
    Request,
    bucket_grant_problem,
    evaluate,
    key_grant_problem,
    topic_grant_problem,
)

ALICE, BOB = "111111111111", "222222222222"
TRAIL = f"arn:aws:cloudtrail:us-east-1:{ALICE}:trail/t"
BOB_TRAIL = f"arn:aws:cloudtrail:us-east-1:{BOB}:trail/t"
CT = {"Service": "cloudtrail.amazonaws.com"}


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


# The guide's bucket policy (lines 10092-10115), with a prefix.
ACL_CHECK = {
    "Sid": "AWSCloudTrailAclCheck20150319",
    "Effect": "Allow",
    "Principal": CT,
    "Action": "s3:GetBucketAcl",
    "Resource": "arn:aws:s3:::logs",
}
WRITE = {
    "Sid": "AWSCloudTrailWrite20150319",
    "Effect": "Allow",
    "Principal": CT,
    "Action": "s3:PutObject",
    "Resource": f"arn:aws:s3:::logs/p/AWSLogs/{ALICE}/*",
    "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}},
}
GUIDE_BUCKET = policy(ACL_CHECK, WRITE)


def test_guide_bucket_policy_grants_its_account_and_prefix() -> None:
    assert bucket_grant_problem(GUIDE_BUCKET, "logs", "p", ALICE, TRAIL) is None


def test_no_policy_grants_nothing() -> None:
    assert (
        bucket_grant_problem(None, "logs", "p", ALICE, TRAIL)
        == "s3:GetBucketAcl on arn:aws:s3:::logs"
    )


@pytest.mark.parametrize(
    ("prefix", "account"),
    [(None, ALICE), ("other", ALICE), ("p", BOB)],
)
def test_bucket_policy_for_another_prefix_or_account(prefix: str | None, account: str) -> None:
    problem = bucket_grant_problem(GUIDE_BUCKET, "logs", prefix, account, TRAIL)
    assert problem is not None and problem.startswith("s3:PutObject")


def test_acl_check_is_required() -> None:
    assert bucket_grant_problem(policy(WRITE), "logs", "p", ALICE, TRAIL) is not None


def test_a_deny_wins_over_the_allow() -> None:
    deny = {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::logs/*"}
    assert bucket_grant_problem(policy(ACL_CHECK, WRITE, deny), "logs", "p", ALICE, TRAIL)


def test_a_deny_whose_condition_does_not_match_does_not_deny() -> None:
    deny = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:PutObject",
        "Resource": "arn:aws:s3:::logs/*",
        "Condition": {"StringNotEquals": {"aws:SourceAccount": ALICE}},
    }
    doc = policy(ACL_CHECK, WRITE, deny)
    assert bucket_grant_problem(doc, "logs", "p", ALICE, TRAIL) is None
    wide = {**WRITE, "Resource": "arn:aws:s3:::logs/p/AWSLogs/*"}
    assert bucket_grant_problem(policy(ACL_CHECK, wide, deny), "logs", "p", BOB, BOB_TRAIL)


def test_source_arn_condition_names_the_trail() -> None:
    st = {**WRITE, "Condition": {"StringEquals": {"aws:SourceArn": TRAIL}}}
    acl = {
        **ACL_CHECK,
        "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:cloudtrail:*:*:trail/*"}},
    }
    assert bucket_grant_problem(policy(acl, st), "logs", "p", ALICE, TRAIL) is None
    other = TRAIL.replace("trail/t", "trail/u")
    assert bucket_grant_problem(policy(acl, st), "logs", "p", ALICE, other) is not None


def test_organization_form() -> None:
    org = {**WRITE, "Resource": "arn:aws:s3:::logs/p/AWSLogs/o-abc123/*"}
    doc = policy(ACL_CHECK, org)
    assert bucket_grant_problem(doc, "logs", "p", ALICE, TRAIL, "o-abc123") is None
    assert bucket_grant_problem(doc, "logs", "p", ALICE, TRAIL) is not None
    assert bucket_grant_problem(GUIDE_BUCKET, "logs", "p", ALICE, TRAIL, "o-abc123") is not None


@pytest.mark.parametrize(
    "principal",
    [{"Service": "s3.amazonaws.com"}, {"AWS": "*"}, {"AWS": f"arn:aws:iam::{ALICE}:root"}],
)
def test_other_principals_are_not_cloudtrail(principal: Any) -> None:
    doc = policy({**ACL_CHECK, "Principal": principal}, {**WRITE, "Principal": principal})
    assert bucket_grant_problem(doc, "logs", "p", ALICE, TRAIL) is not None


def test_everyone_and_wildcards() -> None:
    st = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": ["S3:get*", "s3:Put?bject"],
        "Resource": "*",
    }
    assert bucket_grant_problem(policy(st), "logs", "p", ALICE, TRAIL) is None
    assert bucket_grant_problem("not json", "logs", "p", ALICE, TRAIL) is not None


def test_unknown_condition_operator_fails_closed() -> None:
    odd = {**WRITE, "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}}
    assert bucket_grant_problem(policy(ACL_CHECK, odd), "logs", "p", ALICE, TRAIL) is not None
    deny = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "*",
        "Resource": "*",
        "Condition": odd["Condition"],
    }
    assert evaluate(
        policy(ACL_CHECK, WRITE, deny), Request("s3:GetBucketAcl", "arn:aws:s3:::logs")
    ) is (Decision.EXPLICIT_DENY)


def test_not_action_and_not_resource() -> None:
    st = {
        "Effect": "Allow",
        "Principal": CT,
        "NotAction": "s3:DeleteObject",
        "NotResource": "arn:aws:s3:::other*",
    }
    assert bucket_grant_problem(policy(st), "logs", "p", ALICE, TRAIL) is None


# SNS (line 10350)
TOPIC = f"arn:aws:sns:us-east-1:{ALICE}:notices"
GUIDE_TOPIC = policy(
    {
        "Sid": "AWSCloudTrailSNSPolicy20131101",
        "Effect": "Allow",
        "Principal": CT,
        "Action": "SNS:Publish",
        "Resource": TOPIC,
    }
)
SNS_DEFAULT = policy(
    {
        "Effect": "Allow",
        "Principal": {"AWS": "*"},
        "Action": ["SNS:Publish", "SNS:Subscribe"],
        "Resource": TOPIC,
        "Condition": {"StringEquals": {"AWS:SourceOwner": ALICE}},
    }
)


def test_topic_policies() -> None:
    assert topic_grant_problem(GUIDE_TOPIC, TOPIC, ALICE, TRAIL) is None
    assert topic_grant_problem(SNS_DEFAULT, TOPIC, ALICE, TRAIL) == f"SNS:Publish on {TOPIC}"
    assert topic_grant_problem(None, TOPIC, ALICE, TRAIL) is not None
    other = TOPIC.replace("notices", "other")
    assert topic_grant_problem(GUIDE_TOPIC, other, ALICE, TRAIL) is not None


# KMS (lines 10860-10880)
KEY = f"arn:aws:kms:us-east-1:{ALICE}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
GUIDE_KEY = policy(
    {
        "Sid": "Allow CloudTrail to encrypt logs",
        "Effect": "Allow",
        "Principal": CT,
        "Action": "kms:GenerateDataKey*",
        "Resource": "*",
        "Condition": {
            "StringLike": {
                "kms:EncryptionContext:aws:cloudtrail:arn": [
                    f"arn:aws:cloudtrail:*:{ALICE}:trail/*"
                ]
            }
        },
    },
    {
        "Sid": "Allow CloudTrail to describe key",
        "Effect": "Allow",
        "Principal": CT,
        "Action": "kms:DescribeKey",
        "Resource": "*",
    },
)


def test_key_policies() -> None:
    assert key_grant_problem(GUIDE_KEY, KEY, ALICE, TRAIL) is None
    assert key_grant_problem(GUIDE_KEY, KEY, BOB, BOB_TRAIL) == f"kms:GenerateDataKey* on {KEY}"
    default = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ALICE}:root"},
            "Action": "kms:*",
            "Resource": "*",
        }
    )
    assert key_grant_problem(default, KEY, ALICE, TRAIL) is not None


def test_the_shared_guide_policies_grant_what_delivery_needs() -> None:
    """`recorder.policies.guide` is what the demo, load test and tests give their
    buckets, topics and keys: each must pass the writer's check, and only for whom
    it names."""
    from recorder.policies import guide

    assert bucket_grant_problem(guide.bucket_policy("logs"), "logs", "p", BOB, BOB_TRAIL) is None
    assert (
        bucket_grant_problem(guide.bucket_policy("logs"), "logs", None, ALICE, TRAIL, "o-1") is None
    )
    only_alice = guide.bucket_policy("logs", f"arn:aws:s3:::logs/AWSLogs/{ALICE}/*")
    assert bucket_grant_problem(only_alice, "logs", None, ALICE, TRAIL) is None
    assert bucket_grant_problem(only_alice, "logs", None, BOB, BOB_TRAIL) == (
        f"s3:PutObject on arn:aws:s3:::logs/AWSLogs/{BOB}/*"
    )
    topic = f"arn:aws:sns:us-east-1:{ALICE}:notices"
    assert topic_grant_problem(guide.topic_policy(topic), topic, ALICE, TRAIL) is None
    key = f"arn:aws:kms:us-east-1:{ALICE}:key/k"
    assert key_grant_problem(guide.key_policy(ALICE, [ALICE]), key, ALICE, TRAIL) is None
    assert key_grant_problem(guide.key_policy(ALICE, [ALICE]), key, BOB, BOB_TRAIL) == (
        f"kms:GenerateDataKey* on {key}"
    )
