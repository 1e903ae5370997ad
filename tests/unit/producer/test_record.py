"""The producer's CloudTrail records, built from real botocore service models."""

from __future__ import annotations

import datetime as dt

import botocore.session
import pytest

from recorder.producer.record import Call, Identity, build_record
from recorder.producer.shapes import HIDDEN, bean, camel, elements

T = dt.datetime(2026, 11, 25, 6, 0, 5, tzinfo=dt.UTC)
ALICE = Identity(account_id="111122223333", access_key_id="AKIAIOSFODNN7EXAMPLE", user_name="Alice")


def op(service: str, name: str):
    return botocore.session.get_session().get_service_model(service).operation_model(name)


def call(
    service: str,
    name: str,
    params: dict,
    parsed: dict | None = None,
    status: int = 200,
    region: str = "us-east-2",
) -> Call:
    model = op(service, name)
    return Call(
        service_prefix=model.service_model.endpoint_prefix,
        operation=name,
        region=region,
        params=params,
        input_shape=model.input_shape,
        output_shape=model.output_shape,
        parsed=parsed or {"ResponseMetadata": {"RequestId": "REQ123"}},
        status_code=status,
        event_time=T,
        user_agent="Boto3/1.40",
        api_version=model.service_model.api_version,
    )


def test_s3_put_object_is_a_write_data_event_with_bucket_owner_resource() -> None:
    r = build_record(
        call("s3", "PutObject", {"Bucket": "b1", "Key": "k/1.txt", "Body": b"data"}),
        ALICE,
        bucket_owner="444455556666",
    )
    assert r["eventSource"] == "s3.amazonaws.com"
    assert r["eventName"] == "PutObject"
    assert r["eventTime"] == "2026-11-25T06:00:05Z"
    assert r["awsRegion"] == "us-east-2"
    assert r["requestParameters"] == {"bucketName": "b1", "key": "k/1.txt"}  # no body
    assert r["readOnly"] is False and r["managementEvent"] is False and r["eventCategory"] == "Data"
    assert r["resources"] == [
        {"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::b1/k/1.txt"},
        {"accountId": "444455556666", "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::b1"},
    ]
    assert r["recipientAccountId"] == "111122223333"
    assert r["requestID"] == "REQ123"
    assert r["userIdentity"] == {
        "type": "IAMUser",
        "principalId": "AKIAIOSFODNN7EXAMPLE",
        "arn": "arn:aws:iam::111122223333:user/Alice",
        "accountId": "111122223333",
        "accessKeyId": "AKIAIOSFODNN7EXAMPLE",
        "userName": "Alice",
    }


def test_expected_bucket_owner_names_the_owner() -> None:
    r = build_record(
        call(
            "s3", "GetObject", {"Bucket": "b1", "Key": "k", "ExpectedBucketOwner": "999988887777"}
        ),
        ALICE,
    )
    assert r["resources"][1]["accountId"] == "999988887777"
    assert r["readOnly"] is True
    assert r["responseElements"] is None  # reads record no response elements


def test_lambda_invoke_is_a_data_event_on_the_function() -> None:
    r = build_record(call("lambda", "Invoke", {"FunctionName": "my-fn", "Payload": b"{}"}), ALICE)
    assert r["eventCategory"] == "Data"
    assert r["resources"] == [
        {
            "accountId": "111122223333",
            "type": "AWS::Lambda::Function",
            "ARN": "arn:aws:lambda:us-east-2:111122223333:function:my-fn",
        }
    ]


@pytest.mark.parametrize(
    ("region", "partition"), [("cn-north-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov")]
)
def test_resources_are_named_in_the_partition_of_the_calls_region(
    region: str, partition: str
) -> None:
    r = build_record(call("s3", "PutObject", {"Bucket": "b1", "Key": "k"}, region=region), ALICE)
    assert [x["ARN"] for x in r["resources"]] == [
        f"arn:{partition}:s3:::b1/k",
        f"arn:{partition}:s3:::b1",
    ]
    fn = build_record(call("lambda", "Invoke", {"FunctionName": "f"}, region=region), ALICE)
    assert fn["resources"][0]["ARN"] == f"arn:{partition}:lambda:{region}:111122223333:function:f"


def test_management_event_with_redacted_password_and_response() -> None:
    parsed = {
        "User": {
            "UserName": "Bob",
            "Arn": "arn:aws:iam::111122223333:user/Bob",
            "UserId": "AIDA",
            "Path": "/",
            "CreateDate": T,
        },
        "ResponseMetadata": {"RequestId": "R"},
    }
    r = build_record(
        call(
            "iam",
            "CreateLoginProfile",
            {"UserName": "Bob", "Password": "hunter2"},
            parsed={"LoginProfile": {"UserName": "Bob", "CreateDate": T}},
        ),
        ALICE,
    )
    assert r["requestParameters"] == {"userName": "Bob", "password": HIDDEN}
    assert r["eventSource"] == "iam.amazonaws.com"
    assert (
        r["managementEvent"] is True
        and r["eventCategory"] == "Management"
        and r["readOnly"] is False
    )
    assert r["responseElements"]["loginProfile"]["userName"] == "Bob"
    r2 = build_record(call("iam", "CreateUser", {"UserName": "Bob"}, parsed=parsed), ALICE)
    assert r2["responseElements"]["user"]["arn"] == "arn:aws:iam::111122223333:user/Bob"
    assert "responseMetadata" not in r2["responseElements"]


def test_secrets_manager_secret_string_is_hidden() -> None:
    r = build_record(
        call("secretsmanager", "CreateSecret", {"Name": "db", "SecretString": "s3cr3t"}), ALICE
    )
    assert r["requestParameters"] == {"name": "db", "secretString": HIDDEN}


def test_failed_call_records_error_code_and_message() -> None:
    parsed = {
        "Error": {"Code": "NoSuchKey", "Message": "The specified key does not exist."},
        "ResponseMetadata": {"RequestId": "R"},
    }
    r = build_record(
        call("s3", "GetObject", {"Bucket": "b", "Key": "missing"}, parsed=parsed, status=404), ALICE
    )
    assert r["errorCode"] == "NoSuchKey"
    assert r["errorMessage"] == "The specified key does not exist."
    assert r["responseElements"] is None


def test_event_ids_are_fresh() -> None:
    c = call("s3", "ListBuckets", {})
    assert build_record(c, ALICE)["eventID"] != build_record(c, ALICE)["eventID"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("UserName", "userName"),
        ("bucketName", "bucketName"),
        # only the first letter is lowered, as the guides' records show
        ("AZMode", "aZMode"),  # ElastiCache Developer Guide, CreateCacheCluster
        ("DNSName", "dNSName"),  # ELB, CreateLoadBalancer
        ("SAMLAssertionID", "sAMLAssertionID"),  # IAM User Guide, AssumeRoleWithSAML
        ("AWSServiceName", "aWSServiceName"),  # IAM, CreateServiceLinkedRole
    ],
)
def test_member_names_lower_only_the_first_letter(name: str, expected: str) -> None:
    assert camel(name) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [("AWSAccountId", "AWSAccountId"), ("KeyId", "keyId"), ("AWSAccountIds", "AWSAccountIds")],
)
def test_bean_names_keep_a_leading_acronym(name: str, expected: str) -> None:
    """KMS and SQS records (KMS ct-createkey keyMetadata.AWSAccountId; SQS AddPermission
    AWSAccountIds) spell names as Java beans do."""
    assert bean(name) == expected


def test_elements_without_shape_still_hide_secret_names() -> None:
    assert elements({"Password": "x", "Nested": {"SecretString": "y"}}, None) == {
        "password": HIDDEN,
        "nested": {"secretString": HIDDEN},
    }
