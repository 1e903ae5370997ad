"""Network activity events from the hook: a call through a VPC endpoint is recorded for
the caller and, as AWS's network activity event, for the endpoint's owner (AWS's
"Understanding CloudTrail events", network activity examples)."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from recorder.events import validate_record
from recorder.producer import Identity, install
from recorder.producer.network import (
    VPCE_DENIED_MESSAGE,
    denied_by_endpoint_policy,
    vpc_endpoint_id,
)
from tests.unit.producer.helpers import RenderingSink

OWNER = "123456789012"
ALICE = Identity(account_id=OWNER, access_key_id="AKIAIOSFODNN7EXAMPLE", user_name="Alice")
BOB = Identity(account_id="777788889999", access_key_id="AKIAI44QH8DHBEXAMPLE", user_name="Bob")
VPCE = "vpce-0123456789abcdef0"
ENDPOINT = f"https://{VPCE}-ab12cd34.kms.us-east-1.vpce.amazonaws.com"


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        (f"{VPCE}-ab12cd34.kms.us-east-1.vpce.amazonaws.com", VPCE),
        (f"{VPCE}-ab12cd34-us-east-1a.kms.us-east-1.vpce.amazonaws.com", VPCE),
        (f"my-bucket.{VPCE}-ab12cd34.s3.us-east-1.vpce.amazonaws.com", VPCE),
        ("vpce-1a2b3c4d-5e6f.s3.cn-north-1.vpce.amazonaws.com.cn", "vpce-1a2b3c4d"),
        ("kms.us-east-1.amazonaws.com", None),
        ("vpce-0123.example.com", None),
        ("127.0.0.1", None),
        (None, None),
    ],
)
def test_the_endpoint_url_names_the_vpc_endpoint(host: str | None, expected: str | None) -> None:
    assert vpc_endpoint_id(host) == expected


def test_only_a_refusal_by_an_endpoint_policy_is_vpce_access_denied() -> None:
    by_policy = (
        "User: arn:aws:iam::777788889999:user/Bob is not authorized to perform: kms:ListKeys "
        "because no VPC endpoint policy allows the kms:ListKeys action"
    )
    assert denied_by_endpoint_policy("AccessDeniedException", by_policy)
    assert denied_by_endpoint_policy(
        "AccessDenied", "... with an explicit deny in a VPC endpoint policy"
    )
    assert not denied_by_endpoint_policy("AccessDeniedException", "no identity-based policy allows")
    assert not denied_by_endpoint_policy("ThrottlingException", by_policy)


def _kms(identity: Identity, owners: dict[str, str] | None = None) -> tuple[object, RenderingSink]:
    sink = RenderingSink()
    c = boto3.Session(
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE", aws_secret_access_key="x", region_name="us-east-1"
    ).client("kms", endpoint_url=ENDPOINT)
    install(c, sink, identity=identity, vpc_endpoint_owners=owners, schema_version=3)
    return c, sink


def test_a_call_through_an_endpoint_gives_the_callers_record_and_the_owners() -> None:
    c, sink = _kms(ALICE)
    with Stubber(c) as stub:
        stub.add_response("list_keys", {"Keys": []}, {})
        c.list_keys()
    api, network = sink.records()
    for record in (api, network):
        validate_record(record)
    assert (api["eventType"], api["eventCategory"]) == ("AwsApiCall", "Management")
    assert (api["vpcEndpointId"], api["vpcEndpointAccountId"]) == (VPCE, OWNER)
    assert api["eventVersion"] >= "1.09"
    # the owner's record, as AWS's example of a call by the endpoint's owner
    assert list(network) == [
        "eventVersion",
        "userIdentity",
        "eventTime",
        "eventSource",
        "eventName",
        "awsRegion",
        "sourceIPAddress",
        "eventID",
        "eventType",
        "recipientAccountId",
        "sharedEventID",
        "vpcEndpointId",
        "vpcEndpointAccountId",
        "eventCategory",
    ]
    assert network["eventVersion"] == "1.09"
    assert (network["eventType"], network["eventCategory"]) == ("AwsVpceEvent", "NetworkActivity")
    assert (network["eventSource"], network["eventName"]) == ("kms.amazonaws.com", "ListKeys")
    assert network["userIdentity"] == api["userIdentity"]
    assert network["recipientAccountId"] == network["vpcEndpointAccountId"] == OWNER
    assert network["sharedEventID"] == api["sharedEventID"]
    assert network["eventID"] != api["eventID"]
    assert network["eventTime"] == api["eventTime"]


def test_another_accounts_call_refused_by_the_endpoint_policy() -> None:
    c, sink = _kms(BOB, owners={VPCE: OWNER})
    message = (
        "User: arn:aws:iam::777788889999:user/Bob is not authorized to perform: kms:ListKeys "
        "because no VPC endpoint policy allows the kms:ListKeys action"
    )
    with Stubber(c) as stub:
        stub.add_client_error("list_keys", "AccessDeniedException", message, 400)
        with pytest.raises(c.exceptions.ClientError):
            c.list_keys()
    api, network = sink.records()
    assert api["recipientAccountId"] == "777788889999"
    assert (api["errorCode"], api["errorMessage"]) == ("AccessDeniedException", message)
    assert api["vpcEndpointAccountId"] == OWNER
    assert network["recipientAccountId"] == OWNER
    assert (network["errorCode"], network["errorMessage"]) == (
        "VpceAccessDenied",
        VPCE_DENIED_MESSAGE,
    )
    # a caller from another account is shown by account and access key only
    assert network["userIdentity"] == {
        "type": "AWSAccount",
        "principalId": "AKIAI44QH8DHBEXAMPLE",
        "accountId": "777788889999",
    }


def test_a_call_to_the_public_endpoint_is_recorded_once() -> None:
    sink = RenderingSink()
    c = boto3.Session(
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE", aws_secret_access_key="x", region_name="us-east-1"
    ).client("kms")
    install(c, sink, identity=ALICE)
    with Stubber(c) as stub:
        stub.add_response("list_keys", {"Keys": []}, {})
        c.list_keys()
    (record,) = sink.records()
    assert "vpcEndpointId" not in record and "sharedEventID" not in record


def test_in_scope_of_names_the_lambda_function_whose_credentials_sign(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """userIdentity.inScopeOf (eventVersion 1.09+): a call signed with the execution
    role's credentials of the Lambda function this process is; none for other keys."""
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "TestFunction")
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "ASIAEXECUTIONROLE")
    sink = RenderingSink()
    session = boto3.Session(region_name="eu-central-1")
    install(session, sink, identity=Identity(account_id=OWNER, type="AssumedRole"))
    for key in ("ASIAEXECUTIONROLE", "AKIAIOSFODNN7EXAMPLE"):
        c = session.client("kms", aws_access_key_id=key, aws_secret_access_key="x")
        with Stubber(c) as stub:
            stub.add_response("list_keys", {"Keys": []}, {})
            c.list_keys()
    lambda_call, other = sink.records()
    assert lambda_call["userIdentity"]["inScopeOf"] == {
        "issuerType": "AWS::Lambda::Function",
        "credentialsIssuedTo": f"arn:aws:lambda:eu-central-1:{OWNER}:function:TestFunction",
    }
    assert "inScopeOf" not in other["userIdentity"]
