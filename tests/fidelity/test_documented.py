"""Named per-service tests: the hook's records against the example log entries in AWS's
own documentation, kept in ``documented/`` with the page each comes from.

Each documented record is replayed like the corpus's (the call it describes, made on
the real hooked client, answered by ``Stubber``; :mod:`recorder.fidelity`) and must
match AWS's record on every field AWS wrote: eventSource, eventName, readOnly,
managementEvent, eventCategory, eventType, apiVersion, errorCode, resources, and the
key paths of requestParameters, responseElements and additionalEventData. Values are
printed, not judged: the guides elide and reuse placeholders (an empty bucket name,
one key ARN for every region). A difference the replay cannot avoid is allowed by
name below, with its reason. Calls the guides name but print no record for (S3's
PutBucketLifecycle, Lambda's UpdateFunctionConfiguration20150331v2, EC2 security
group rules, STS GetSessionToken) are made through the hook and checked against the
page that documents them.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import boto3
from botocore.stub import Stubber

from recorder.fidelity.compare import Difference, compare
from recorder.fidelity.replay import replay
from recorder.producer import Identity, install
from tests.unit.producer.helpers import RenderingSink

DOCUMENTED = Path(__file__).with_name("documented")
ALICE = Identity(account_id="111122223333", access_key_id="AKIAIOSFODNN7EXAMPLE", user_name="Alice")

#: Differences a replay cannot avoid, by (eventName, field:path) -> why.
ALLOWED = {
    ("TerminateInstances", "responseElements.keys:requestId"): (
        "a 2016 record (eventVersion 1.03); EC2 records carry requestId since 1.05 "
        "(EFS User Guide, CreateNetworkInterface example), the hook writes 1.08"
    ),
    ("RunInstances", "responseElements.keys:requestId"): "a 2014 record (eventVersion 1.02)",
    ("PutBucketAcl", "additionalEventData.keys:CipherSuite"): (
        "the TLS cipher of the connection; a stubbed call has no connection"
    ),
    ("GetBucketVersioning", "additionalEventData.keys:CipherSuite"): (
        "the TLS cipher of the connection; a stubbed call has no connection"
    ),
    ("ListBuckets", "additionalEventData.keys:aclRequired"): (
        "whether S3 needed an ACL to authorise the call: S3's own decision"
    ),
    ("AssumeRole", "requestParameters.keys:incomingTransitiveTags.Department"): (
        "the transitive tags of the caller's own session, which STS adds; not in the call"
    ),
}


def documented(name: str) -> list[tuple[str, dict[str, Any]]]:
    doc = json.loads((DOCUMENTED / f"{name}.json").read_text(encoding="utf-8"))
    return [(r["page"], r["record"]) for r in doc["records"]]


def judged(difference: Difference) -> bool:
    return not difference.field.endswith(".values")


def assert_matches_documented(name: str) -> list[dict[str, Any]]:
    """Replay every documented record of ``name``; fail on any difference not allowed."""
    produced = []
    for page, record in documented(name):
        ours = replay(record)
        produced.append(ours)
        found = [d for d in compare(record, ours) if judged(d)]
        unexplained = [
            str(d)
            for d in found
            if (record["eventName"], f"{d.field}:{d.path}" if d.path else d.field) not in ALLOWED
        ]
        assert not unexplained, f"{record['eventName']} ({page}):\n" + "\n".join(unexplained)
        values = [str(d) for d in compare(record, ours) if not judged(d)]
        print(f"{record['eventName']}: matches {page}" + "".join(f"\n  value: {v}" for v in values))
    return produced


def client(service: str, region: str = "us-east-1") -> Any:
    c = boto3.Session(
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        region_name=region,
    ).client(service)
    return c


def hooked_call(
    service: str, method: str, params: dict[str, Any], response: dict[str, Any]
) -> dict[str, Any]:
    c = client(service)
    sink = RenderingSink()
    install(c, sink, identity=ALICE)
    with Stubber(c) as stub:
        stub.add_response(method, response, params)
        getattr(c, method)(**params)
    (record,) = sink.records()
    return record


def test_ses_records_match_the_ses_developer_guide() -> None:
    """SES's botocore endpoint prefix is ``email``; CloudTrail writes ses.amazonaws.com
    (Amazon SES Developer Guide, Logging Amazon SES API calls with AWS CloudTrail)."""
    delete, verify = assert_matches_documented("ses")
    assert delete["eventSource"] == "ses.amazonaws.com" and delete["eventName"] == "DeleteIdentity"
    assert delete["requestParameters"] == {"identity": "amazon.com"}
    assert verify["requestParameters"] == {"emailAddress": "sender@example.com"}
    # SES v2 signs as ses too: the same source for its calls
    v2 = hooked_call("sesv2", "delete_email_identity", {"EmailIdentity": "amazon.com"}, {})
    assert (v2["eventSource"], v2["eventName"]) == ("ses.amazonaws.com", "DeleteEmailIdentity")


def test_ecr_records_match_the_ecr_user_guide() -> None:
    """ECR's endpoint prefix is ``api.ecr``; CloudTrail writes ecr.amazonaws.com and names
    the repository as the resource (Amazon ECR User Guide, Logging Amazon ECR actions)."""
    create, put, get = assert_matches_documented("ecr")
    assert {create["eventSource"], put["eventSource"], get["eventSource"]} == {"ecr.amazonaws.com"}
    repo = "arn:aws:ecr:us-east-2:123456789012:repository/testrepo"
    assert [r["ARN"] for r in create["resources"]] == [repo]
    assert [r["ARN"] for r in get["resources"]] == [repo]
    assert get["readOnly"] is True and get["responseElements"] is None


def test_sagemaker_records_match_the_sagemaker_developer_guide() -> None:
    """SageMaker's endpoint prefixes are ``api.sagemaker`` and, for the Feature Store
    runtime, ``featurestore-runtime.sagemaker``; CloudTrail writes sagemaker.amazonaws.com
    for both, and PutRecord is a data event on the feature group."""
    endpoint, model, put = assert_matches_documented("sagemaker")
    assert endpoint["eventSource"] == model["eventSource"] == put["eventSource"]
    assert endpoint["eventSource"] == "sagemaker.amazonaws.com"
    assert (put["eventCategory"], put["managementEvent"]) == ("Data", False)
    assert put["resources"][0]["type"] == "AWS::SageMaker::FeatureGroup"
    assert put["requestParameters"] == {"featureGroupName": "your-feature-group-name"}


def test_s3_bucket_configuration_records_match_the_s3_user_guide() -> None:
    """S3 keeps the body's XML element names, adds the host and the subresource, and
    writes how the call was signed (Amazon S3 User Guide, CloudTrail log file entries
    for Amazon S3); PutBucketLifecycleConfiguration is recorded as PutBucketLifecycle
    (Amazon S3 User Guide, Amazon S3 CloudTrail events)."""
    listed, acl, versioning = assert_matches_documented("s3")
    assert listed["requestParameters"] == {"host": ["s3.us-west-2.amazonaws.com"]}
    body = acl["requestParameters"]["AccessControlPolicy"]
    assert body["xmlns"] == "http://s3.amazonaws.com/doc/2006-03-01/"
    assert set(body["AccessControlList"]["Grant"]["Grantee"]) == {"xsi:type", "xmlns:xsi", "ID"}
    assert acl["requestParameters"]["acl"] == [""]
    assert versioning["requestParameters"]["versioning"] == [""]
    assert versioning["additionalEventData"]["SignatureVersion"] == "SigV4"
    lifecycle = hooked_call(
        "s3",
        "put_bucket_lifecycle_configuration",
        {
            "Bucket": "amzn-s3-demo-bucket",
            "LifecycleConfiguration": {
                "Rules": [
                    {
                        "ID": "expire",
                        "Status": "Enabled",
                        "Filter": {"Prefix": "logs/"},
                        "Expiration": {"Days": 30},
                    }
                ]
            },
        },
        {},
    )
    assert lifecycle["eventName"] == "PutBucketLifecycle"
    params = lifecycle["requestParameters"]
    assert params["bucketName"] == "amzn-s3-demo-bucket"
    assert params["lifecycle"] == [""]
    assert params["host"] == ["amzn-s3-demo-bucket.s3.amazonaws.com"]
    assert params["LifecycleConfiguration"]["Rule"]["ID"] == "expire"  # one rule: an object
    assert params["LifecycleConfiguration"]["xmlns"] == "http://s3.amazonaws.com/doc/2006-03-01/"


def test_lambda_function_configuration_records_match_the_lambda_developer_guide() -> None:
    """Lambda's versioned event names and the members it leaves out (AWS Lambda
    Developer Guide, Logging AWS Lambda API calls using AWS CloudTrail: "the
    Environment parameter is omitted from the CloudTrail logs for
    UpdateFunctionConfiguration", event name UpdateFunctionConfiguration20150331v2)."""
    refused, deleted = assert_matches_documented("lambda")
    assert refused["requestParameters"] is None  # refused: AccessDenied
    assert deleted["eventName"] == "DeleteFunction20150331"
    arn = "arn:aws:lambda:us-east-1:111122223333:function:my-function"
    update = hooked_call(
        "lambda",
        "update_function_configuration",
        {
            "FunctionName": "my-function",
            "MemorySize": 256,
            "Environment": {"Variables": {"DB_PASSWORD": "s3cr3t"}},
        },
        {"FunctionName": "my-function", "FunctionArn": arn, "MemorySize": 256},
    )
    assert update["eventName"] == "UpdateFunctionConfiguration20150331v2"
    assert update["requestParameters"] == {"functionName": "my-function", "memorySize": 256}
    assert "s3cr3t" not in json.dumps(update)
    assert update["responseElements"]["functionArn"] == arn
    assert update["resources"] == [
        {"accountId": "111122223333", "type": "AWS::Lambda::Function", "ARN": arn}
    ]
    create = hooked_call(
        "lambda",
        "create_function",
        {
            "FunctionName": "my-function",
            "Role": "arn:aws:iam::111122223333:role/lambda-ex",
            "Code": {"ZipFile": b"PK\x03\x04"},
            "Environment": {"Variables": {"KEY": "value"}},
        },
        {"FunctionName": "my-function", "FunctionArn": arn},
    )
    assert create["eventName"] == "CreateFunction20150331"
    assert create["requestParameters"] == {
        "functionName": "my-function",
        "role": "arn:aws:iam::111122223333:role/lambda-ex",
        "code": {},
    }


def test_ec2_security_group_records_match_ec2s_documented_forms() -> None:
    """EC2 writes its own XML names, lists as {"items": [...]} and IDs of instances and
    security groups in sets (Amazon EC2 User Guide, Log Amazon EC2 API calls using AWS
    CloudTrail; AWS KMS Developer Guide, ct-ec2two: RunInstances into a security
    group). A rule's members are named as the EC2 API Reference's IpPermission page
    gives them for responses (ipProtocol, fromPort, toPort, groups, ipRanges,
    ipv6Ranges, prefixListIds), every list of a rule written, {} when empty, and the
    answer carries requestId and _return (AWS Knowledge Center, "How do I use
    CloudTrail to see if a security group or resource was changed in my AWS account?")."""
    terminate, run = assert_matches_documented("ec2")
    assert terminate["requestParameters"] == {
        "instancesSet": {"items": [{"instanceId": "i-1a2b3c4d"}]}
    }
    assert run["requestParameters"]["groupSet"] == {"items": [{"groupId": "sg-98b6e0f2"}]}
    authorize = hooked_call(
        "ec2",
        "authorize_security_group_ingress",
        {
            "GroupId": "sg-0123456789abcdef0",
            "IpPermissions": [
                {
                    "IpProtocol": "tcp",
                    "FromPort": 998,
                    "ToPort": 998,
                    "IpRanges": [{"CidrIp": "192.168.0.0/32"}],
                }
            ],
        },
        {
            "Return": True,
            "SecurityGroupRules": [
                {
                    "SecurityGroupRuleId": "sgr-0123456789abcdef0",
                    "GroupId": "sg-0123456789abcdef0",
                    "IsEgress": False,
                    "IpProtocol": "tcp",
                    "FromPort": 998,
                    "ToPort": 998,
                    "CidrIpv4": "192.168.0.0/32",
                }
            ],
            "ResponseMetadata": {"RequestId": "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111"},
        },
    )
    assert authorize["eventSource"] == "ec2.amazonaws.com"
    assert authorize["requestParameters"] == {
        "groupId": "sg-0123456789abcdef0",
        "ipPermissions": {
            "items": [
                {
                    "ipProtocol": "tcp",
                    "fromPort": 998,
                    "toPort": 998,
                    "ipRanges": {"items": [{"cidrIp": "192.168.0.0/32"}]},
                    "groups": {},
                    "ipv6Ranges": {},
                    "prefixListIds": {},
                }
            ]
        },
    }
    response = authorize["responseElements"]
    assert response["requestId"] == "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111"
    assert response["_return"] is True
    (rule,) = response["securityGroupRuleSet"]["items"]
    assert rule["securityGroupRuleId"] == "sgr-0123456789abcdef0"
    create = hooked_call(
        "ec2",
        "create_security_group",
        {"GroupName": "web", "Description": "web servers", "VpcId": "vpc-1a2b3c4d"},
        {"GroupId": "sg-0123456789abcdef0"},
    )
    assert create["requestParameters"] == {
        "groupName": "web",
        "groupDescription": "web servers",
        "vpcId": "vpc-1a2b3c4d",
    }
    assert create["responseElements"]["groupId"] == "sg-0123456789abcdef0"


def test_sts_assume_role_and_get_session_token_match_the_iam_user_guide() -> None:
    """STS calls are read-only but CloudTrail writes the credentials they issue, their
    accessKeyId, sessionToken and expiration, never the secret key, and names the role
    as the resource (IAM User Guide, Logging IAM and AWS STS API calls with AWS
    CloudTrail)."""
    user_call, session_call = assert_matches_documented("sts")
    for record in (user_call, session_call):
        assert record["readOnly"] is True
        assert set(record["responseElements"]["credentials"]) == {
            "accessKeyId",
            "sessionToken",
            "expiration",
        }
        assert record["resources"][0]["type"] == "AWS::IAM::Role"
    assert session_call["responseElements"]["credentials"]["expiration"] == (
        "Oct 2, 2019, 11:12:29 PM"  # the IAM User Guide's form
    )
    token = hooked_call(
        "sts",
        "get_session_token",
        {"DurationSeconds": 3600},
        {
            "Credentials": {
                "AccessKeyId": "ASIAIOSFODNN7EXAMPLE",
                "SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY",
                "SessionToken": "AQoDYXdzEJr...<remainder of session token>",
                "Expiration": dt.datetime(2019, 10, 2, 23, 12, 29, tzinfo=dt.UTC),
            }
        },
    )
    assert (token["eventName"], token["readOnly"]) == ("GetSessionToken", True)
    assert token["requestParameters"] == {"durationSeconds": 3600}
    assert token["responseElements"] == {
        "credentials": {
            "accessKeyId": "ASIAIOSFODNN7EXAMPLE",
            "sessionToken": "AQoDYXdzEJr...<remainder of session token>",
            "expiration": "Oct 2, 2019, 11:12:29 PM",
        }
    }
    assert not re.search("zEXAMPLEKEY", json.dumps(token))
