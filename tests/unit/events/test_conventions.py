"""The conventions table: every rule names its source, and the names and classes it
gives are CloudTrail's for the examples the cited pages print."""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest

from recorder.events import conventions as cv
from recorder.events.classify import classify


def rules() -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for name, value in vars(cv).items():
        if isinstance(value, cv.Rule):
            out.append((name, value))
        elif isinstance(value, dict):
            out += [(f"{name}[{k}]", v) for k, v in value.items() if isinstance(v, cv.Rule)]
            out += [(f"{name}[{k}]", v) for k, v in value.items() if isinstance(v, cv.Resources)]
    return out


def test_every_rule_names_its_source() -> None:
    found = rules()
    assert len(found) > 60
    for name, rule in found:
        assert isinstance(rule.source, str) and len(rule.source) > 10, name


@pytest.mark.parametrize(
    ("service", "source"),
    [
        ("ses", "ses.amazonaws.com"),  # endpoint prefix "email"
        ("sesv2", "ses.amazonaws.com"),
        ("ecr", "ecr.amazonaws.com"),  # "api.ecr"
        ("sagemaker", "sagemaker.amazonaws.com"),  # "api.sagemaker"
        ("sagemaker-featurestore-runtime", "sagemaker.amazonaws.com"),
        ("dynamodbstreams", "dynamodb.amazonaws.com"),  # "streams.dynamodb"
        ("mq", "amazonmq.amazonaws.com"),
        ("s3control", "s3.amazonaws.com"),
        ("iam", "iam.amazonaws.com"),
    ],
)
def test_event_sources(service: str, source: str) -> None:
    model = botocore.session.get_session().get_service_model(service)
    assert cv.event_source_for(service, model.signing_name, model.endpoint_prefix) == source


@pytest.mark.parametrize(
    ("service", "operation", "name"),
    [
        ("s3", "PutBucketLifecycleConfiguration", "PutBucketLifecycle"),
        ("s3", "PutObject", "PutObject"),
        ("s3control", "DeletePublicAccessBlock", "DeleteAccountPublicAccessBlock"),
        ("lambda", "UpdateFunctionConfiguration", "UpdateFunctionConfiguration20150331v2"),
        ("lambda", "CreateFunction", "CreateFunction20150331"),
        ("lambda", "Invoke", "Invoke"),
    ],
)
def test_event_names(service: str, operation: str, name: str) -> None:
    assert cv.event_name_for(service, operation) == name


@pytest.mark.parametrize(
    ("source", "name", "read_only", "category"),
    [
        ("kms.amazonaws.com", "Decrypt", True, "Management"),
        ("kms.amazonaws.com", "GenerateDataKeyPair", True, "Management"),
        ("sts.amazonaws.com", "AssumeRole", True, "Management"),
        ("bedrock.amazonaws.com", "InvokeModel", True, "Management"),
        ("comprehend.amazonaws.com", "ClassifyDocument", True, "Management"),
        ("dynamodb.amazonaws.com", "PutItem", False, "Data"),
        ("dynamodb.amazonaws.com", "GetRecords", True, "Data"),
        ("dynamodb.amazonaws.com", "CreateTable", False, "Management"),
        ("ebs.amazonaws.com", "GetSnapshotBlock", True, "Data"),
        ("ebs.amazonaws.com", "StartSnapshot", False, "Management"),
        ("sagemaker.amazonaws.com", "PutRecord", False, "Data"),
        ("s3.amazonaws.com", "GetObject", True, "Data"),
        ("lambda.amazonaws.com", "Invoke", False, "Data"),
        ("ec2.amazonaws.com", "RunInstances", False, "Management"),
    ],
)
def test_classification(source: str, name: str, read_only: bool, category: str) -> None:
    c = classify(source, name)
    assert (c.read_only, c.event_category, c.management_event) == (
        read_only,
        category,
        category == "Management",
    )


def test_api_versions_as_the_services_write_them() -> None:
    assert cv.api_version_for("dynamodb.amazonaws.com", "PutItem", "2012-08-10", None) == (
        "2012-08-10"
    )
    assert cv.api_version_for("logs.amazonaws.com", "PutLogEvents", "2014-03-28", None) == (
        "20140328"
    )
    assert cv.api_version_for(
        "shield.amazonaws.com", "ListProtections", "2016-06-02", "AWSShield_20160616"
    ) == ("AWSShield_20160616")
    assert cv.api_version_for("kms.amazonaws.com", "Encrypt", "2014-11-01", None) is None
    assert cv.api_version_for("s3.amazonaws.com", "PutObject", "2006-03-01", None) == "2006-03-01"
    assert cv.api_version_for("s3.amazonaws.com", "CreateBucket", "2006-03-01", None) is None
