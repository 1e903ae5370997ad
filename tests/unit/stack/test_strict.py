"""The strict stack's reading of the wire: which action a request asks for, and the
request context an authorizer builds from its headers alone."""

from __future__ import annotations

import base64
import json

import pytest

from recorder.policies import CLOUDTRAIL, Decision, Principal
from recorder.policies.requests import object_put_params
from recorder.stack.strict import kms_call, refusal, s3_call, signed_by, sns_call

TRAIL = "arn:aws:cloudtrail:us-east-1:111122223333:trail/t"
KEY = "arn:aws:kms:us-east-1:111122223333:key/k"


def headers_of(params: dict[str, str]) -> dict[str, str]:
    """What botocore sends for object_put_params (the header names S3 documents)."""
    names = {
        "ACL": "x-amz-acl",
        "ServerSideEncryption": "x-amz-server-side-encryption",
        "SSEKMSKeyId": "x-amz-server-side-encryption-aws-kms-key-id",
        "SSEKMSEncryptionContext": "x-amz-server-side-encryption-context",
    }
    return {names[k]: v for k, v in params.items()}


def test_the_signing_key_region_and_service_come_from_the_authorization_header() -> None:
    header = (
        "AWS4-HMAC-SHA256 Credential=AKIDRECORDER/20260101/cn-north-1/s3/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=abc"
    )
    signed = signed_by({"Authorization": header})
    assert signed is not None
    assert (signed.access_key, signed.region, signed.service) == (
        "AKIDRECORDER",
        "cn-north-1",
        "s3",
    )
    assert signed_by({}) is None


def test_a_log_file_put_carries_the_acl_and_the_trails_encryption_context() -> None:
    headers = headers_of(object_put_params(trail_arn=TRAIL, kms_key_id=KEY))
    call = s3_call("PUT", "/logs/AWSLogs/111122223333/CloudTrail/x.json.gz", {}, headers, "aws")
    assert call is not None and call.delivers
    assert (call.action, call.resource, call.bucket) == (
        "s3:PutObject",
        "arn:aws:s3:::logs/AWSLogs/111122223333/CloudTrail/x.json.gz",
        "logs",
    )
    assert call.context["s3:x-amz-acl"] == "bucket-owner-full-control"
    assert call.sse_key == KEY
    assert call.kms_context == {"aws:s3:arn": call.resource, "aws:cloudtrail:arn": TRAIL}


def test_a_put_without_the_acl_has_none_in_its_context() -> None:
    call = s3_call("PUT", "/logs/k", {}, {"x-amz-server-side-encryption": "AES256"}, "aws-cn")
    assert call is not None and "s3:x-amz-acl" not in call.context
    assert call.resource == "arn:aws-cn:s3:::logs/k" and call.sse_key is None


@pytest.mark.parametrize(
    ("method", "path", "query", "action"),
    [
        ("GET", "/logs", {"policy": ""}, "s3:GetBucketPolicy"),
        ("GET", "/logs", {"acl": ""}, "s3:GetBucketAcl"),
        ("HEAD", "/logs", {}, "s3:ListBucket"),
        ("GET", "/logs", {"list-type": "2", "prefix": "AWSLogs/"}, "s3:ListBucket"),
        ("GET", "/logs/AWSLogs/1/CloudTrail-Digest/d.json.gz", {}, "s3:GetObject"),
        ("HEAD", "/logs/k", {}, "s3:GetObject"),
    ],
)
def test_reads_are_the_actions_s3_authorizes_them_as(
    method: str, path: str, query: dict[str, str], action: str
) -> None:
    call = s3_call(method, path, query, {}, "aws")
    assert call is not None and call.action == action and not call.delivers


def test_requests_no_policy_speaks_to_are_not_judged() -> None:
    assert s3_call("GET", "/", {}, {}, "aws") is None  # ListBuckets
    assert s3_call("PUT", "/logs", {}, {}, "aws") is None  # CreateBucket
    assert s3_call("PUT", "/logs", {"policy": ""}, {}, "aws") is None


def test_sns_and_kms_calls() -> None:
    topic = "arn:aws:sns:us-east-1:111122223333:t"
    publish = sns_call({"Action": "Publish", "TopicArn": topic, "Message": "{}"})
    assert publish is not None and (publish.action, publish.resource, publish.delivers) == (
        "SNS:Publish",
        topic,
        True,
    )
    read = sns_call({"Action": "GetTopicAttributes", "TopicArn": topic})
    assert read is not None and not read.delivers
    assert sns_call({"Action": "ListTopics"}) is None
    describe = kms_call("TrentService.DescribeKey", {"KeyId": "alias/k"})
    assert describe is not None and describe.action == "kms:DescribeKey"
    assert kms_call("TrentService.GenerateDataKey", {"KeyId": "alias/k"}) is None


def test_refusals_are_in_awss_words() -> None:
    role = Principal.parse("arn:aws:iam::444455556666:role/w")
    assert refusal(role, "s3:PutObject", "arn:aws:s3:::b/k", Decision.IMPLICIT_DENY) == (
        "User: arn:aws:iam::444455556666:role/w is not authorized to perform: s3:PutObject on "
        "resource: arn:aws:s3:::b/k because no resource-based policy allows the s3:PutObject action"
    )
    assert refusal(CLOUDTRAIL, "SNS:Publish", "t", Decision.EXPLICIT_DENY).endswith(
        "with an explicit deny in a resource-based policy"
    )


def test_a_context_header_that_is_not_base64_json_is_no_context() -> None:
    bad = {"x-amz-server-side-encryption": "aws:kms", "x-amz-server-side-encryption-context": "%%"}
    call = s3_call("PUT", "/logs/k", {}, bad, "aws")
    assert call is not None and call.kms_context == {"aws:s3:arn": "arn:aws:s3:::logs/k"}
    other = base64.b64encode(json.dumps(["x"]).encode()).decode()
    call = s3_call(
        "PUT", "/logs/k", {}, {**bad, "x-amz-server-side-encryption-context": other}, "aws"
    )
    assert call is not None and call.kms_context == {"aws:s3:arn": "arn:aws:s3:::logs/k"}
