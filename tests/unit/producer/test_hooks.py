"""The hook on real botocore clients (Stubber answers), through the records it produces."""

from __future__ import annotations

import datetime as dt

import boto3
import pytest
from botocore.stub import Stubber

from recorder.events import validate_record
from recorder.events.regions import is_global_service_event
from recorder.producer import Identity, install
from recorder.producer.identity import Credentials, identity_from_caller
from recorder.producer.record import event_region, fit
from tests.unit.producer.helpers import RenderingSink

ALICE = Identity(account_id="111122223333", access_key_id="AKIAIOSFODNN7EXAMPLE", user_name="Alice")


def client(service: str, region: str, **kw):
    return boto3.Session(
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE", aws_secret_access_key="x", region_name=region
    ).client(service, **kw)


def test_install_without_identity_or_resolver_is_an_error() -> None:
    with pytest.raises(TypeError, match=r"identity= .* or resolver="):
        install(client("s3", "us-east-1"), RenderingSink())
    with pytest.raises(TypeError, match="exactly one"):
        install(
            client("s3", "us-east-1"), RenderingSink(), identity=ALICE, resolver=lambda c: ALICE
        )


@pytest.mark.parametrize(
    ("service", "region", "call", "expected"),
    [
        ("iam", "aws-global", ("list_users", {"Users": []}), "us-east-1"),
        ("iam", "eu-west-1", ("list_users", {"Users": []}), "us-east-1"),
        ("cloudfront", "eu-west-1", ("list_distributions", {}), "us-east-1"),
        ("route53", "ap-south-1", ("list_hosted_zones", {
            "HostedZones": [], "Marker": "", "IsTruncated": False, "MaxItems": "1"}), "us-east-1"),
        ("organizations", "eu-west-1", ("describe_organization", {}), "us-east-1"),
        ("waf", "eu-west-1", ("list_web_acls", {}), "us-east-1"),
        ("iam", "cn-north-1", ("list_users", {"Users": []}), "cn-north-1"),
    ],
)  # fmt: skip
def test_global_services_are_logged_in_the_partitions_home_region(
    service: str, region: str, call: tuple[str, dict], expected: str
) -> None:
    sink = RenderingSink()
    c = client(service, region)
    install(c, sink, identity=ALICE)
    name, response = call
    with Stubber(c) as stub:
        stub.add_response(name, response)
        getattr(c, name)()
    (record,) = sink.records()
    assert record["awsRegion"] == expected
    validate_record(record)
    assert is_global_service_event(record)


def test_sts_global_endpoint_is_us_east_1_and_regional_endpoint_its_region() -> None:
    sink = RenderingSink()
    answer = {"UserId": "AIDA", "Account": "111122223333", "Arn": "arn:aws:iam::1:user/a"}
    glob = client("sts", "eu-west-1", endpoint_url="https://sts.amazonaws.com")
    regional = client("sts", "eu-west-1", endpoint_url="https://sts.eu-west-1.amazonaws.com")
    for c in (glob, regional):
        install(c, sink, identity=ALICE)
        with Stubber(c) as stub:
            stub.add_response("get_caller_identity", answer)
            c.get_caller_identity()
    g, r = sink.records()
    assert (g["awsRegion"], r["awsRegion"]) == ("us-east-1", "eu-west-1")
    assert g["tlsDetails"]["clientProvidedHostHeader"] == "sts.amazonaws.com"
    assert is_global_service_event(g) and not is_global_service_event(r)


@pytest.mark.parametrize(
    ("prefix", "client_region", "host", "expected"),
    [
        ("sts", "us-east-1", "sts.us-east-1.amazonaws.com", "us-east-1"),
        ("sts", "aws-global", "127.0.0.1", "us-east-1"),
        ("sts", "eu-west-2", "127.0.0.1", "eu-west-2"),
        ("s3", "eu-west-2", "s3.eu-west-2.amazonaws.com", "eu-west-2"),
        ("iam", "us-gov-east-1", None, "us-gov-west-1"),
    ],
)
def test_event_region(prefix: str, client_region: str, host: str | None, expected: str) -> None:
    assert event_region(prefix, client_region, host) == expected


def test_record_is_built_off_the_callers_thread() -> None:
    """The hook queues a capture; nothing is built until the sink renders it."""
    sink = RenderingSink()
    c = client("s3", "us-east-1")
    install(c, sink, identity=ALICE)
    with Stubber(c) as stub:
        stub.add_response("put_object", {"ETag": '"abc"'})
        c.put_object(Bucket="b", Key="k", Body=b"x")
    assert sink.encoded == [] and len(sink.queued) == 1
    (record,) = sink.records()
    assert record["eventName"] == "PutObject" and record["requestParameters"]["key"] == "k"


def test_resolver_gets_the_signing_credentials() -> None:
    seen: list[Credentials | None] = []

    def resolver(creds: Credentials | None) -> Identity:
        seen.append(creds)
        return ALICE

    sink = RenderingSink()
    c = client("s3", "us-east-1")
    install(c, sink, resolver=resolver)
    with Stubber(c) as stub:
        stub.add_response("list_buckets", {"Buckets": []})
        c.list_buckets()
    sink.records()
    assert seen == [Credentials("AKIAIOSFODNN7EXAMPLE", "x", None)]


NOW = dt.datetime(2026, 12, 1, 4, 0, tzinfo=dt.UTC)


def test_identity_of_an_iam_user() -> None:
    i = identity_from_caller(
        "arn:aws:iam::111122223333:user/ops/Alice", "AIDAEXAMPLE", "111122223333", "AKIA1", now=NOW
    )
    assert i.user_identity() == {
        "type": "IAMUser",
        "principalId": "AIDAEXAMPLE",
        "arn": "arn:aws:iam::111122223333:user/ops/Alice",
        "accountId": "111122223333",
        "accessKeyId": "AKIA1",
        "userName": "Alice",
    }


def test_identity_of_an_assumed_role_has_its_session_issuer() -> None:
    i = identity_from_caller(
        "arn:aws:sts::111122223333:assumed-role/Deploy/build-7",
        "AROAEXAMPLE:build-7",
        "111122223333",
        "ASIA1",
        now=NOW,
    )
    u = i.user_identity()
    assert u["type"] == "AssumedRole" and "userName" not in u
    assert u["principalId"] == "AROAEXAMPLE:build-7"
    assert u["sessionContext"]["sessionIssuer"] == {
        "type": "Role",
        "principalId": "AROAEXAMPLE",
        "arn": "arn:aws:iam::111122223333:role/Deploy",
        "accountId": "111122223333",
        "userName": "Deploy",
    }
    assert u["sessionContext"]["attributes"]["mfaAuthenticated"] == "false"
    record = {
        "eventVersion": "1.05",
        "userIdentity": u,
        "eventTime": "2026-12-01T04:00:00Z",
        "eventSource": "s3.amazonaws.com",
        "eventName": "ListBuckets",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "127.0.0.1",
        "eventID": "e",
        "eventType": "AwsApiCall",
    }
    validate_record(record)


def test_identity_of_root() -> None:
    u = identity_from_caller(
        "arn:aws:iam::111122223333:root", "111122223333", "111122223333", "AKIA1", now=NOW
    ).user_identity()
    assert (u["type"], u["principalId"]) == ("Root", "111122223333")


# -- large calls -------------------------------------------------------------------------


def test_sqs_message_body_and_blobs_are_never_logged() -> None:
    sink = RenderingSink()
    sqs = client("sqs", "us-east-1")
    kinesis = client("kinesis", "us-east-1")
    install(sqs, sink, identity=ALICE)
    install(kinesis, sink, identity=ALICE)
    url = "https://sqs.us-east-1.amazonaws.com/111122223333/q"
    with Stubber(sqs) as stub:
        stub.add_response("send_message", {"MessageId": "m1", "MD5OfMessageBody": "x"})
        sqs.send_message(QueueUrl=url, MessageBody="secret order 42")
    with Stubber(kinesis) as stub:
        stub.add_response("put_record", {"ShardId": "s", "SequenceNumber": "1"})
        kinesis.put_record(StreamName="s", Data=b"payload", PartitionKey="p")
    send, put = sink.records()
    assert send["requestParameters"] == {"queueUrl": url}
    assert put["requestParameters"] == {"streamName": "s", "partitionKey": "p"}


def test_an_oversized_member_is_omitted_and_marked() -> None:
    sink = RenderingSink()
    cf = client("cloudformation", "us-east-1")
    install(cf, sink, identity=ALICE)
    template = "{" + " " * (300 * 1024) + "}"
    with Stubber(cf) as stub:
        stub.add_response("create_stack", {"StackId": "arn:aws:cloudformation:::stack/s/1"})
        cf.create_stack(StackName="s", TemplateBody=template)
    (record,) = sink.records()
    params = record["requestParameters"]
    assert params["stackName"] == "s"
    assert params["templateBody"] == {"omitted": True, "originalSize": len(template) + 2}
    validate_record(record)


def test_fit_omits_the_largest_member_first_and_as_few_as_needed() -> None:
    record = {
        "requestParameters": {"small": "x" * 100, "big": "y" * 5000, "mid": "z" * 2000},
        "responseElements": {"list": ["a" * 3000]},
    }
    fit(record, max_bytes=6000)
    assert record["requestParameters"]["big"] == {"omitted": True, "originalSize": 5002}
    assert record["requestParameters"]["mid"] == "z" * 2000
    assert record["responseElements"] == {"list": ["a" * 3000]}


async def test_the_same_hook_on_an_aiobotocore_client() -> None:
    """aiobotocore awaits its credentials; the hook's async before-call does too."""
    from aiobotocore.session import get_session
    from aiobotocore.stub import AioStubber

    seen: list[Credentials | None] = []

    def resolver(creds: Credentials | None) -> Identity:
        seen.append(creds)
        return ALICE

    sink = RenderingSink()
    session = get_session()
    install(session, sink, resolver=resolver)
    async with session.create_client(
        "iam", region_name="eu-west-1", aws_access_key_id="AKIDAIO", aws_secret_access_key="s"
    ) as iam:
        with AioStubber(iam) as stub:
            stub.add_response("list_users", {"Users": []})
            await iam.list_users()
    (record,) = sink.records()
    assert record["eventName"] == "ListUsers" and record["awsRegion"] == "us-east-1"
    assert record["userAgent"].startswith("aiobotocore/") or "aiobotocore" in record["userAgent"]
    assert seen == [Credentials("AKIDAIO", "s", None)]
    validate_record(record)


def test_caller_identity_is_looked_up_once_per_credential_set_and_the_cache_is_bounded() -> None:
    import time

    from recorder.producer.identity import CallerIdentityResolver

    class Counting(CallerIdentityResolver):
        asked: list[str] = []

        def _get_caller_identity(self, credentials: Credentials, region: str, url: str) -> dict:
            self.asked.append(credentials.access_key)
            return {
                "Arn": f"arn:aws:iam::111122223333:user/{credentials.access_key}",
                "UserId": "AIDA" + credentials.access_key,
                "Account": "111122223333",
            }

    resolver = Counting(cache_size=2)

    def resolve(c: Credentials) -> Identity:
        deadline = time.monotonic() + 5
        while (found := resolver.resolve(c, "us-east-1")) is None:
            assert time.monotonic() < deadline
            time.sleep(0.005)
        return found

    a, b, c = (Credentials(k, "s", None) for k in ("A1", "B2", "C3"))
    assert resolve(a).user_name == "A1"
    resolve(a)
    resolve(b)
    assert resolver.asked == ["A1", "B2"] and resolver.lookups == 2
    resolve(a)  # most recent now; B2 is the oldest
    resolve(c)  # evicts B2
    resolve(a)
    resolve(b)
    assert resolver.asked == ["A1", "B2", "C3", "B2"]
    with pytest.raises(LookupError):
        resolver.resolve(None, None)
