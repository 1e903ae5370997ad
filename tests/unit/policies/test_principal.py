"""Policies judged for the configured delivery principal, with the request context the
real S3, SNS and KMS evaluate for it: a role is not the CloudTrail service, gets no
``aws:SourceArn``, and is named by its ARN or its account."""

from __future__ import annotations

import json
from typing import Any

import pytest

from recorder.policies import (
    CLOUDTRAIL,
    Decision,
    Principal,
    Request,
    bucket_grant_problem,
    evaluate,
    guide,
    key_grant_problem,
    topic_grant_problem,
)

WRITER_ACCOUNT, TENANT = "444455556666", "111122223333"
ROLE = Principal.parse(f"arn:aws:iam::{WRITER_ACCOUNT}:role/recorder-writer")
OTHER_ROLE = Principal.parse(f"arn:aws:iam::{WRITER_ACCOUNT}:role/someone-else")
TRAIL = f"arn:aws:cloudtrail:us-east-1:{TENANT}:trail/t"
CN_TRAIL = f"arn:aws-cn:cloudtrail:cn-north-1:{TENANT}:trail/t"
TOPIC = f"arn:aws:sns:us-east-1:{TENANT}:notices"
KEY = f"arn:aws:kms:us-east-1:{TENANT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.mark.parametrize(
    ("given", "name"),
    [
        ("cloudtrail.amazonaws.com", "cloudtrail.amazonaws.com"),
        (f"arn:aws:iam::{WRITER_ACCOUNT}:role/recorder-writer", str(ROLE)),
        (
            f"arn:aws:iam::{WRITER_ACCOUNT}:role/path/to/writer",
            f"arn:aws:iam::{WRITER_ACCOUNT}:role/path/to/writer",
        ),
        (f"arn:aws:iam::{WRITER_ACCOUNT}:user/ci", f"arn:aws:iam::{WRITER_ACCOUNT}:user/ci"),
        # what STS GetCallerIdentity answers for an IRSA pod: the session stands for its role
        (
            f"arn:aws-cn:sts::{WRITER_ACCOUNT}:assumed-role/recorder-writer/botocore-session-1",
            f"arn:aws-cn:iam::{WRITER_ACCOUNT}:role/recorder-writer",
        ),
    ],
)
def test_principals_parse_to_the_name_policies_use(given: str, name: str) -> None:
    assert Principal.parse(given).name == name


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "cloudtrail",
        "arn:aws:s3:::bucket",
        "arn:aws:iam::12:role/x",
        "arn:aws:sts::444455556666:federated-user/x",
    ],
)
def test_anything_else_is_refused_saying_what_is_expected(bad: str) -> None:
    with pytest.raises(ValueError, match="writer's IAM role ARN"):
        Principal.parse(bad)


def test_each_principal_brings_its_global_condition_keys() -> None:
    assert CLOUDTRAIL.context() == {
        "aws:PrincipalIsAWSService": "true",
        "aws:PrincipalServiceName": "cloudtrail.amazonaws.com",
    }
    assert ROLE.context() == {
        "aws:PrincipalIsAWSService": "false",
        "aws:PrincipalArn": str(ROLE),
        "aws:PrincipalAccount": WRITER_ACCOUNT,
    }


@pytest.mark.parametrize(
    ("element", "role", "service"),
    [
        ("*", True, True),
        ({"AWS": "*"}, True, False),
        ({"AWS": str(ROLE)}, True, False),
        ({"AWS": [str(OTHER_ROLE), str(ROLE)]}, True, False),
        ({"AWS": WRITER_ACCOUNT}, True, False),
        ({"AWS": f"arn:aws:iam::{WRITER_ACCOUNT}:root"}, True, False),
        ({"AWS": f"arn:aws:iam::{TENANT}:root"}, False, False),
        ({"AWS": str(OTHER_ROLE)}, False, False),
        ({"Service": "cloudtrail.amazonaws.com"}, False, True),
        ({"Service": ["config.amazonaws.com"]}, False, False),
    ],
)
def test_which_principal_elements_name_whom(element: Any, role: bool, service: bool) -> None:
    assert ROLE.named_by(element) is role
    assert CLOUDTRAIL.named_by(element) is service


def test_the_guides_bucket_policy_grants_the_service_and_not_the_writers_role() -> None:
    service_policy = guide.bucket_policy("logs")
    assert (
        bucket_grant_problem(service_policy, "logs", None, TENANT, TRAIL, principal=CLOUDTRAIL)
        is None
    )
    assert bucket_grant_problem(service_policy, "logs", None, TENANT, TRAIL, principal=ROLE) == (
        "s3:GetBucketAcl on arn:aws:s3:::logs"
    )
    role_policy = guide.bucket_policy("logs", principal=ROLE)
    assert bucket_grant_problem(role_policy, "logs", None, TENANT, TRAIL, principal=ROLE) is None
    assert bucket_grant_problem(role_policy, "logs", None, TENANT, TRAIL, principal=OTHER_ROLE)
    assert bucket_grant_problem(role_policy, "logs", None, TENANT, TRAIL, principal=CLOUDTRAIL)


def test_a_source_arn_condition_holds_for_the_service_and_never_for_a_role() -> None:
    """AWS sets aws:SourceArn only when a service acts for a resource: a role's put
    meets a StringEquals on it with the key absent, and is refused."""
    write = {
        "Effect": "Allow",
        "Action": ["s3:GetBucketAcl", "s3:PutObject"],
        "Resource": ["arn:aws:s3:::logs", "arn:aws:s3:::logs/*"],
        "Condition": {"StringEquals": {"aws:SourceArn": TRAIL}},
    }
    for who in (CLOUDTRAIL, ROLE):
        p = policy(
            {
                **write,
                "Principal": {"Service": "cloudtrail.amazonaws.com"}
                if who is CLOUDTRAIL
                else {"AWS": str(ROLE)},
            }
        )
        granted = bucket_grant_problem(p, "logs", None, TENANT, TRAIL, principal=who) is None
        assert granted is (who is CLOUDTRAIL)


def test_principal_arn_and_is_aws_service_conditions() -> None:
    allow_by_arn = {
        "Effect": "Allow",
        "Principal": {"AWS": WRITER_ACCOUNT},
        "Action": "s3:PutObject",
        "Resource": "arn:aws:s3:::logs/*",
        "Condition": {"ArnEquals": {"aws:PrincipalArn": str(ROLE)}},
    }
    put = Request("s3:PutObject", "arn:aws:s3:::logs/AWSLogs/x")
    assert evaluate(policy(allow_by_arn), Request(put.action, put.resource, ROLE)) is Decision.ALLOW
    assert evaluate(policy(allow_by_arn), Request(put.action, put.resource, OTHER_ROLE)) is (
        Decision.IMPLICIT_DENY
    )
    deny_humans = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:PutObject",
        "Resource": "arn:aws:s3:::logs/*",
        "Condition": {"Bool": {"aws:PrincipalIsAWSService": "false"}},
    }
    allow_all = {**allow_by_arn, "Principal": "*", "Condition": {}}
    assert evaluate(policy(allow_all, deny_humans), Request(put.action, put.resource, ROLE)) is (
        Decision.EXPLICIT_DENY
    )
    assert evaluate(
        policy(allow_all, deny_humans), Request(put.action, put.resource, CLOUDTRAIL)
    ) is (Decision.ALLOW)


def test_a_policy_that_demands_another_acl_refuses_the_put() -> None:
    doc = json.loads(guide.bucket_policy("logs", principal=ROLE))
    doc["Statement"][1]["Condition"] = {"StringEquals": {"s3:x-amz-acl": "private"}}
    assert bucket_grant_problem(json.dumps(doc), "logs", None, TENANT, TRAIL, principal=ROLE) == (
        f"s3:PutObject on arn:aws:s3:::logs/AWSLogs/{TENANT}/*"
    )


def test_topic_and_key_grants_for_the_role() -> None:
    assert (
        topic_grant_problem(
            guide.topic_policy(TOPIC, principal=ROLE), TOPIC, TENANT, TRAIL, principal=ROLE
        )
        is None
    )
    assert topic_grant_problem(guide.topic_policy(TOPIC), TOPIC, TENANT, TRAIL, principal=ROLE) == (
        f"SNS:Publish on {TOPIC}"
    )
    key = guide.key_policy(TENANT, [TENANT], principal=ROLE)
    assert key_grant_problem(key, KEY, TENANT, TRAIL, principal=ROLE) is None
    # the encryption context names the trail: a key for another account's trails refuses
    other = guide.key_policy(TENANT, ["999999999999"], principal=ROLE)
    assert (
        key_grant_problem(other, KEY, TENANT, TRAIL, principal=ROLE)
        == f"kms:GenerateDataKey* on {KEY}"
    )


def test_resources_are_spelled_in_the_trails_partition() -> None:
    cn = guide.bucket_policy("logs", principal=ROLE, partition="aws-cn")
    assert '"arn:aws-cn:s3:::logs"' in cn
    assert bucket_grant_problem(cn, "logs", None, TENANT, CN_TRAIL, principal=ROLE) is None
    commercial = guide.bucket_policy("logs", principal=ROLE)
    assert bucket_grant_problem(commercial, "logs", None, TENANT, CN_TRAIL, principal=ROLE) == (
        "s3:GetBucketAcl on arn:aws-cn:s3:::logs"
    )
    cn_key = guide.key_policy(TENANT, [TENANT], principal=ROLE, partition="aws-cn")
    cn_key_arn = KEY.replace("arn:aws:", "arn:aws-cn:").replace("us-east-1", "cn-north-1")
    assert key_grant_problem(cn_key, cn_key_arn, TENANT, CN_TRAIL, principal=ROLE) is None
    assert key_grant_problem(cn_key, cn_key_arn, TENANT, TRAIL, principal=ROLE)


def test_an_iam_principals_policy_lets_it_read_the_policy_and_the_services_does_not_need_to() -> (
    None
):
    role_doc = guide.bucket_document("logs", principal=ROLE)
    by_sid = {st["Sid"]: st for st in role_doc["Statement"]}
    assert by_sid["RecorderDigestReadBack"]["Action"] == "s3:GetObject"
    assert by_sid["RecorderDigestReadBack"]["Resource"] == [
        "arn:aws:s3:::logs/*CloudTrail-Digest/*",
        "arn:aws:s3:::logs/*CloudTrail-Tlog/*",
    ]
    read_back = Request("s3:GetObject", f"arn:aws:s3:::logs/AWSLogs/{TENANT}/CloudTrail-Digest/d")
    doc = json.dumps(role_doc)
    assert evaluate(doc, Request(read_back.action, read_back.resource, ROLE)) is Decision.ALLOW
    log_file = f"arn:aws:s3:::logs/AWSLogs/{TENANT}/CloudTrail/f.json.gz"
    assert evaluate(doc, Request("s3:GetObject", log_file, ROLE)) is Decision.IMPLICIT_DENY
    assert by_sid["RecorderGrantCheck"] == {
        "Sid": "RecorderGrantCheck",
        "Effect": "Allow",
        "Principal": {"AWS": str(ROLE)},
        "Action": "s3:GetBucketPolicy",
        "Resource": "arn:aws:s3:::logs",
    }
    assert [s["Sid"] for s in guide.bucket_document("logs")["Statement"]] == [
        "AWSCloudTrailAclCheck20150319",
        "AWSCloudTrailWrite20150319",
    ]
