"""One test per attack on the control API (issue 12): each gets the CloudTrail error
code a real CloudTrail answers with, and leaves no trace in the registry (the
`trails` topic every process loads its trails from).

Alice (123456789012) owns the resources on the local moto, Bob (222222222222) is
another tenant on the same recorder, the auditor is Alice's read-only key, Carol's
account is the one flooding the API.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
from botocore import UNSIGNED
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from recorder.stack.local import LocalStack
from tests.integration.helpers import (
    RecorderProcess,
    aws,
    cloudtrail_bucket,
    cloudtrail_key_policy,
    cloudtrail_topic,
)
from tests.security.common import (
    ALICE,
    ALICE_KEY,
    ALICE_SECRET,
    AUDITOR_KEY,
    AUDITOR_SECRET,
    BOB,
    BOB_KEY,
    BOB_SECRET,
    CAROL_KEY,
    CAROL_SECRET,
    REGION,
    cloudtrail,
    registry,
    send,
    signed,
    start_api,
)

pytestmark = pytest.mark.integration

MAX_BODY = 65536


@dataclass
class Env:
    stack: LocalStack
    api: RecorderProcess
    port: int
    alice_trail: str
    alice_key: str

    def alice(self, **kw: Any) -> Any:
        return cloudtrail(self.port, ALICE_KEY, ALICE_SECRET, **kw)

    def bob(self, **kw: Any) -> Any:
        return cloudtrail(self.port, BOB_KEY, BOB_SECRET, **kw)


@pytest.fixture(scope="module")
def env(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    s3 = aws(stack, "s3")
    cloudtrail_bucket(s3, "alice-logs", f"arn:aws:s3:::alice-logs/AWSLogs/{ALICE}/*")
    cloudtrail_bucket(s3, "shared-logs")
    s3.create_bucket(Bucket="no-policy-logs")
    cloudtrail_bucket(s3, "deny-logs")
    policy = json.loads(s3.get_bucket_policy(Bucket="deny-logs")["Policy"])
    policy["Statement"].append(
        {
            "Sid": "NoCloudTrail",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": "arn:aws:s3:::deny-logs/*",
        }
    )
    s3.put_bucket_policy(Bucket="deny-logs", Policy=json.dumps(policy))
    cloudtrail_topic(aws(stack, "sns"), "alice-notices")
    kms = aws(stack, "kms")
    key = kms.create_key(Policy=cloudtrail_key_policy(ALICE, [ALICE]))["KeyMetadata"]["Arn"]
    api, port = start_api(
        stack,
        tmp_path_factory.mktemp("security"),
        {
            "RECORDER_API_READ_RATE": "20",
            "RECORDER_API_READ_BURST": "20",
            "RECORDER_API_WRITE_RATE": "20",
            "RECORDER_API_WRITE_BURST": "20",
            "RECORDER_API_MAX_BODY_BYTES": str(MAX_BODY),
        },
    )
    try:
        alice = cloudtrail(port, ALICE_KEY, ALICE_SECRET)
        arn = alice.create_trail(
            Name="alice-trail",
            S3BucketName="alice-logs",
            SnsTopicName="alice-notices",
            KmsKeyId=key,
        )["TrailARN"]
        yield Env(stack, api, port, arn, key)
    finally:
        api.stop()


def error_code(call: Callable[..., Any], **params: Any) -> str:
    with pytest.raises(ClientError) as info:
        call(**params)
    return str(info.value.response["Error"]["Code"])


@pytest.fixture
def untouched(env: Env) -> Iterator[None]:
    """The test's calls leave the registry exactly as it was."""
    before = registry(env.stack)
    yield
    assert registry(env.stack) == before


# -- who is calling ------------------------------------------------------------------------


def test_unsigned_request(env: Env, untouched: None) -> None:
    anonymous = cloudtrail(env.port, "x", "y", signature_version=UNSIGNED)
    code = error_code(anonymous.create_trail, Name="anon", S3BucketName="shared-logs")
    assert code == "MissingAuthenticationTokenException"


def test_wrong_secret(env: Env, untouched: None) -> None:
    forged = cloudtrail(env.port, ALICE_KEY, "not-alices-secret")
    code = error_code(forged.delete_trail, Name="alice-trail")
    assert code == "InvalidSignatureException"


def test_unknown_access_key(env: Env, untouched: None) -> None:
    # the local stack's well-known key is not accepted without local development on
    stranger = cloudtrail(env.port, "testing", "testing")
    assert error_code(stranger.list_trails) == "UnrecognizedClientException"


def test_expired_signature(env: Env, untouched: None) -> None:
    body = json.dumps({"Name": "late", "S3BucketName": "alice-logs"}).encode()
    old = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)
    out = send(signed(env.port, "CreateTrail", body, ALICE_KEY, ALICE_SECRET, at=old))
    assert (out.status, out.body["__type"]) == (400, "InvalidSignatureException")
    assert out.body["message"].startswith("Signature expired")


def test_replayed_signature_with_another_body(env: Env, untouched: None) -> None:
    request = signed(
        env.port, "GetTrail", json.dumps({"Name": "alice-trail"}).encode(), ALICE_KEY, ALICE_SECRET
    )
    assert send(request).status == 200
    tampered = json.dumps({"Name": "alice-trail", "S3BucketName": "shared-logs"}).encode()
    replay = signed(env.port, "GetTrail", b"{}", ALICE_KEY, ALICE_SECRET)
    replay.headers["Authorization"] = request.headers["Authorization"]
    replay.headers["X-Amz-Target"] = request.headers["X-Amz-Target"].replace(
        "GetTrail", "UpdateTrail"
    )
    out = send(replay, body=tampered)
    assert (out.status, out.body["__type"]) == (400, "InvalidSignatureException")


def test_a_signature_over_unsigned_payload_is_refused(env: Env, untouched: None) -> None:
    """Only S3 takes ``UNSIGNED-PAYLOAD``: CloudTrail computes the payload hash from the
    body it received, so the signature does not match (IAM User Guide, "Troubleshoot
    signed requests"), and a captured request cannot carry another body."""
    body = json.dumps({"Name": "alice-trail"}).encode()
    request = signed(env.port, "GetTrail", body, ALICE_KEY, ALICE_SECRET, unsigned_payload=True)
    assert request.headers["X-Amz-Content-SHA256"] == "UNSIGNED-PAYLOAD"
    assert "x-amz-content-sha256" in request.headers["Authorization"]  # signed as a header
    out = send(request)
    assert (out.status, out.body["__type"]) == (400, "InvalidSignatureException")
    assert out.body["message"].startswith(
        "The request signature we calculated does not match the signature you provided."
    )
    tampered = json.dumps({"Name": "alice-trail", "S3BucketName": "shared-logs"}).encode()
    write = signed(env.port, "UpdateTrail", body, ALICE_KEY, ALICE_SECRET, unsigned_payload=True)
    out = send(write, body=tampered)
    assert (out.status, out.body["__type"]) == (400, "InvalidSignatureException")
    # the same call with its payload signed is answered
    assert send(signed(env.port, "GetTrail", body, ALICE_KEY, ALICE_SECRET)).status == 200


def test_put_audit_events_over_unsigned_payload_is_refused(env: Env, untouched: None) -> None:
    """The same for the ingest call (CloudTrail Data's PutAuditEvents, signed for
    ``cloudtrail-data``): the answer is the signature's, before any channel is read;
    the call with its payload signed reaches the channel lookup."""
    channel = f"arn:aws:cloudtrail:{REGION}:{ALICE}:channel/00000000-0000-0000-0000-000000000000"
    events = [{"id": "e1", "eventData": json.dumps({"eventName": "x"})}]
    body = json.dumps({"auditEvents": events}).encode()

    def put(unsigned_payload: bool) -> AWSRequest:
        headers = {"Content-Type": "application/json"}
        if unsigned_payload:
            headers["X-Amz-Content-SHA256"] = "UNSIGNED-PAYLOAD"
        url = f"http://127.0.0.1:{env.port}/PutAuditEvents?channelArn={quote(channel, safe='')}"
        request = AWSRequest(method="POST", url=url, data=body, headers=headers)
        SigV4Auth(Credentials(ALICE_KEY, ALICE_SECRET), "cloudtrail-data", REGION).add_auth(request)
        return request

    out = send(put(unsigned_payload=True))
    assert (out.status, out.body["__type"]) == (400, "InvalidSignatureException")
    out = send(put(unsigned_payload=True), body=json.dumps({"auditEvents": events * 2}).encode())
    assert (out.status, out.body["__type"]) == (400, "InvalidSignatureException")
    out = send(put(unsigned_payload=False))
    assert (out.status, out.body["__type"]) == (400, "ChannelNotFound")


def test_replayed_create_trail_makes_no_second_trail(env: Env, untouched: None) -> None:
    # SigV4 lets a captured request be sent again within the 5 minutes (as AWS does);
    # a replayed write then meets the state it made: no second trail, no change.
    body = json.dumps({"Name": "alice-trail", "S3BucketName": "alice-logs"}).encode()
    out = send(signed(env.port, "CreateTrail", body, ALICE_KEY, ALICE_SECRET))
    assert out.body["__type"] == "TrailAlreadyExistsException"


def test_made_up_signing_region(env: Env, untouched: None) -> None:
    fake = cloudtrail(env.port, ALICE_KEY, ALICE_SECRET, region="xx-fake-9")
    code = error_code(fake.create_trail, Name="fake-region", S3BucketName="alice-logs")
    assert code == "InvalidSignatureException"


def test_action_outside_the_principals_allow_list(env: Env, untouched: None) -> None:
    auditor = cloudtrail(env.port, AUDITOR_KEY, AUDITOR_SECRET)
    assert [t["Name"] for t in auditor.describe_trails()["trailList"]] == ["alice-trail"]
    assert auditor.get_trail_status(Name="alice-trail")["IsLogging"] is False
    assert error_code(auditor.stop_logging, Name="alice-trail") == "AccessDeniedException"
    assert error_code(auditor.delete_trail, Name="alice-trail") == "AccessDeniedException"


# -- another tenant's trail ---------------------------------------------------------------------


@pytest.mark.parametrize("by", ["name", "arn"])
def test_principal_acting_on_another_accounts_trail(env: Env, untouched: None, by: str) -> None:
    bob = env.bob()
    target = "alice-trail" if by == "name" else env.alice_trail
    assert error_code(bob.get_trail, Name=target) == "TrailNotFoundException"
    assert error_code(bob.delete_trail, Name=target) == "TrailNotFoundException"
    assert error_code(bob.stop_logging, Name=target) == "TrailNotFoundException"
    assert error_code(bob.update_trail, Name=target, S3BucketName="shared-logs") == (
        "TrailNotFoundException"
    )
    code = error_code(
        bob.put_event_selectors,
        TrailName=target,
        EventSelectors=[{"ReadWriteType": "ReadOnly", "IncludeManagementEvents": True}],
    )
    assert code == "TrailNotFoundException"
    assert bob.describe_trails(trailNameList=[target])["trailList"] == []


# -- resources the caller's account does not own or has not granted ----------------------------


@pytest.mark.parametrize(
    ("bucket", "who"),
    [
        ("no-policy-logs", "alice"),  # a bucket without policy
        ("alice-logs", "bob"),  # a policy for another account
        ("deny-logs", "alice"),  # an Allow and a Deny
    ],
)
def test_bucket_not_granted(env: Env, untouched: None, bucket: str, who: str) -> None:
    ct = env.alice() if who == "alice" else env.bob()
    code = error_code(ct.create_trail, Name="bucket-attack", S3BucketName=bucket)
    assert code == "InsufficientS3BucketPolicyException"
    code = error_code(ct.update_trail, Name="alice-trail", S3BucketName=bucket)
    assert code == (
        "InsufficientS3BucketPolicyException" if who == "alice" else "TrailNotFoundException"
    )


def test_bare_topic_name_existing_only_in_another_account(env: Env, untouched: None) -> None:
    with pytest.raises(ClientError) as info:
        env.bob().create_trail(
            Name="topic-attack", S3BucketName="shared-logs", SnsTopicName="alice-notices"
        )
    error = info.value.response["Error"]
    assert error["Code"] == "InsufficientSnsTopicPolicyException"
    assert error["Message"] == "SNS Topic does not exist or the topic policy is incorrect!"


def test_foreign_kms_key(env: Env, untouched: None) -> None:
    code = error_code(
        env.bob().create_trail,
        Name="key-attack",
        S3BucketName="shared-logs",
        KmsKeyId=env.alice_key,
    )
    assert code == "InsufficientEncryptionPolicyException"


@pytest.mark.parametrize(
    "prefix",
    [
        "../",
        "../../etc",
        "%2e%2e/",
        "/leading",
        f"x/../../AWSLogs/{BOB}",
        "line\nbreak",
        "nul\x00byte",
    ],
)
def test_traversal_or_control_character_in_s3_key_prefix(
    env: Env, untouched: None, prefix: str
) -> None:
    alice = env.alice()
    code = error_code(
        alice.create_trail, Name="prefix-attack", S3BucketName="shared-logs", S3KeyPrefix=prefix
    )
    assert code == "InvalidS3PrefixException"
    code = error_code(alice.update_trail, Name="alice-trail", S3KeyPrefix=prefix)
    assert code == "InvalidS3PrefixException"


# -- limits -------------------------------------------------------------------------------------


def test_oversized_body(env: Env, untouched: None) -> None:
    body = json.dumps({"Name": "big", "S3BucketName": "alice-logs", "x": "a" * MAX_BODY}).encode()
    out = send(signed(env.port, "CreateTrail", body, ALICE_KEY, ALICE_SECRET))
    assert (out.status, out.body["__type"]) == (413, "ValidationException")


def test_burst_past_the_rate_limit(env: Env, untouched: None) -> None:
    carol = cloudtrail(env.port, CAROL_KEY, CAROL_SECRET)

    def call(_: int) -> str:
        try:
            carol.delete_trail(Name="not-there")
            return "OK"
        except ClientError as exc:
            return str(exc.response["Error"]["Code"])

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(call, range(80)))
    assert "ThrottlingException" in codes
    assert set(codes) <= {"ThrottlingException", "TrailNotFoundException"}
    # Alice is not throttled by Carol's flood
    assert env.alice().get_trail(Name="alice-trail")["Trail"]["Name"] == "alice-trail"
