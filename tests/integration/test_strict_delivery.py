"""Issue 24, items 1-4 on the strict stack: recorder delivers as a role, as on AWS.

The stack's proxy refuses what S3, SNS and KMS refuse under the resources' policies,
and records every request. recorder's processes sign with the delivery principal's key
(``arn:aws:iam::444455556666:role/recorder-writer``, of another account than the
trails' owner, as with a log-archive bucket). The tests:

* ``recorder policy bucket`` output, applied to a fresh bucket, makes CreateTrail
  succeed for that principal; another principal's policy makes it refuse, with the
  refused policy read named (the owner did not let this principal read it) or, once
  the read is granted, with AWS's own message;
* four trails deliver: SSE-S3 with an SNS topic, SSE-KMS, and two that break after
  their first file (a bucket policy demanding another ACL, a key policy whose
  encryption-context condition names another account's trails). The first two get
  every event; the broken two are refused by the proxy on the wire and parked with a
  LatestDeliveryError naming what is missing, while the first two keep delivering;
* every delivery request on the wire carries what CloudTrail's requests carry: the
  ``bucket-owner-full-control`` ACL on every log file and digest, SSE-S3 or SSE-KMS
  with the key and the ``{"aws:cloudtrail:arn": <trail ARN>}`` context on log files,
  SSE-S3 on digests, and SNS notices naming the delivered key.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from recorder.aws.arn import trail_arn
from recorder.policies import Principal, guide
from recorder.stack.local import DELIVERY_KEY, LocalStack
from recorder.stack.processes import free_port
from tests.integration.helpers import RecorderProcess, read_log_files, wait_until
from tests.integration.test_api import ALICE, cloudtrail, credentials_file

pytestmark = pytest.mark.integration

ROLE = "arn:aws:iam::444455556666:role/recorder-writer"
OTHER = "arn:aws:iam::444455556666:role/someone-else"
REGION = "us-east-1"
ACL = "bucket-owner-full-control"


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    s = LocalStack(
        root=tmp_path_factory.mktemp("strict"),
        kafka_port=free_port(),
        moto_port=free_port(),
        strict=True,
        delivery_principal=ROLE,
    )
    s.start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def recorder(strict: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    work = tmp_path_factory.mktemp("recorder")
    port = free_port()
    proc = RecorderProcess(
        strict,
        ["api", "router", "writer", "digester"],
        work,
        env={
            "RECORDER_API_PORT": str(port),
            "RECORDER_API_CREDENTIALS_FILE": str(credentials_file(work / "credentials.json")),
            "RECORDER_DIGEST_INTERVAL": "4",
            "RECORDER_PARK_RETRY_BASE": "1",
            "RECORDER_PARK_RETRY_MAX": "2",
        },
    ).start()
    try:
        yield port
    finally:
        proc.stop()


def owner(stack: LocalStack, service: str) -> Any:
    """The resources' owner (Alice), whose requests the proxy passes."""
    return boto3.client(
        service,
        endpoint_url=stack.aws_endpoint_url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def policy_command(*argv: str) -> str:
    """``recorder policy ...`` as a tenant runs it; its output, as the AWS CLI takes it."""
    done = subprocess.run(
        [sys.executable, "-m", "recorder.cli", "policy", *argv],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.stdout


def test_policy_command_output_lets_create_trail_succeed_for_that_principal_only(
    strict: LocalStack, recorder: int
) -> None:
    s3, ct = owner(strict, "s3"), cloudtrail(recorder, region=REGION)
    arn = trail_arn(REGION, ALICE, "from-the-command")
    for bucket, principal in (("cmd-ours", ROLE), ("cmd-theirs", OTHER)):
        s3.create_bucket(Bucket=bucket)
        text = policy_command(
            "--principal", principal, "bucket", "--bucket", bucket, "--trail-arn", arn
        )
        s3.put_bucket_policy(Bucket=bucket, Policy=text)

    made = ct.create_trail(Name="from-the-command", S3BucketName="cmd-ours")
    assert made["TrailARN"] == arn

    with pytest.raises(ClientError) as refused:
        ct.create_trail(Name="theirs", S3BucketName="cmd-theirs")
    error = refused.value.response["Error"]
    assert error["Code"] == "InsufficientS3BucketPolicyException"
    assert error["Message"] == (
        "Incorrect S3 bucket policy is detected for bucket: cmd-theirs "
        f"({ROLE} may not read it: s3:GetBucketPolicy refused with AccessDenied)"
    )
    # the owner lets our principal read the policy, which still grants someone else
    doc = json.loads(s3.get_bucket_policy(Bucket="cmd-theirs")["Policy"])
    doc["Statement"].append(
        {
            "Sid": "LetRecorderRead",
            "Effect": "Allow",
            "Principal": {"AWS": ROLE},
            "Action": "s3:GetBucketPolicy",
            "Resource": "arn:aws:s3:::cmd-theirs",
        }
    )
    s3.put_bucket_policy(Bucket="cmd-theirs", Policy=json.dumps(doc))
    with pytest.raises(ClientError) as refused:
        ct.create_trail(Name="theirs", S3BucketName="cmd-theirs")
    assert refused.value.response["Error"]["Message"] == (
        "Incorrect S3 bucket policy is detected for bucket: cmd-theirs"
    )
    reads = [
        r
        for r in strict.wire()
        if r["action"] == "s3:GetBucketPolicy"
        and r["resource"] == "arn:aws:s3:::cmd-theirs"
        and r["principal"] == ROLE
    ]
    assert [r["status"] for r in reads] == [403, 200]
    assert reads[0]["refused"].startswith(f"User: {ROLE} is not authorized to perform: s3:Get")


def kms_key(kms: Any, trail_accounts: list[str]) -> str:
    policy = guide.key_policy(ALICE, trail_accounts, principal=Principal.parse(ROLE))
    return str(kms.create_key(Policy=policy)["KeyMetadata"]["Arn"])


def test_delivery_on_the_strict_stack_and_what_each_request_carries(
    strict: LocalStack, recorder: int
) -> None:
    role = Principal.parse(ROLE)
    s3, sns, kms = (owner(strict, s) for s in ("s3", "sns", "kms"))
    ct = cloudtrail(recorder, region=REGION)
    buckets = {
        "s3": "strict-sse-s3",
        "kms": "strict-sse-kms",
        "acl": "strict-acl",
        "ctx": "strict-ctx",
    }
    for bucket in buckets.values():
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_policy(Bucket=bucket, Policy=guide.bucket_policy(bucket, principal=role))
    topic = str(sns.create_topic(Name="strict-notices")["TopicArn"])
    sns.set_topic_attributes(
        TopicArn=topic,
        AttributeName="Policy",
        AttributeValue=guide.topic_policy(topic, principal=role),
    )
    key, ctx_key = kms_key(kms, [ALICE]), kms_key(kms, [ALICE])
    extra = {
        "s3": {"SnsTopicName": topic},
        "kms": {"KmsKeyId": key},
        "acl": {},
        "ctx": {"KmsKeyId": ctx_key},
    }
    arns = {}
    for name, bucket in buckets.items():
        made = ct.create_trail(
            Name=f"strict-{name}", S3BucketName=bucket, EnableLogFileValidation=True, **extra[name]
        )
        arns[name] = made["TrailARN"]
        ct.start_logging(Name=made["TrailARN"])

    def calls(n: int) -> list[str]:
        """Management events of Alice's account: the API's own calls, one record each."""
        return [str(ct.list_trails()["ResponseMetadata"]["RequestId"]) for _ in range(n)]

    def delivered(name: str) -> list[str]:
        files = read_log_files(strict, buckets[name])
        return [str(r["requestID"]) for records in files.values() for r in records]

    first = calls(3)
    wait_until(
        lambda: all(set(first) <= set(delivered(n)) for n in buckets),
        timeout=90,
        message="every trail's first events",
    )

    # the owners change their policies: recorder's cached grants still say yes
    doc = json.loads(guide.bucket_policy(buckets["acl"], principal=role))
    doc["Statement"][1]["Condition"] = {"StringEquals": {"s3:x-amz-acl": "bucket-owner-read"}}
    s3.put_bucket_policy(Bucket=buckets["acl"], Policy=json.dumps(doc))
    other_trails = guide.key_policy(ALICE, ["999999999999"], principal=role)
    kms.put_key_policy(KeyId=ctx_key, PolicyName="default", Policy=other_trails)

    later = calls(5)
    statuses = wait_until(
        lambda: (
            (st := {n: ct.get_trail_status(Name=arns[n]) for n in ("acl", "ctx")})
            and all(s.get("LatestDeliveryError") for s in st.values())
            and st
        ),
        timeout=90,
        message="the broken trails' delivery errors",
    )
    missing = {
        "acl": f"AccessDenied: the bucket policy does not grant {ROLE} s3:PutObject on "
        f"arn:aws:s3:::strict-acl/AWSLogs/{ALICE}/*",
        "ctx": f"AccessDenied: the key policy does not grant {ROLE} kms:GenerateDataKey* on {ctx_key}",
    }
    # S3's bare code first (the put refused on the wire), then, once the retry has read
    # the policy again, what the policy does not grant
    for name in ("acl", "ctx"):
        final = wait_until(
            lambda n=name: (
                ct.get_trail_status(Name=arns[n]).get("LatestDeliveryError") == missing[n]
            ),
            timeout=60,
            message=f"{name}: the missing grant in GetTrailStatus",
        )
        assert final and statuses[name]["IsLogging"] is True
    everything = set(first + later)
    wait_until(
        lambda: all(everything <= set(delivered(n)) for n in ("s3", "kms")),
        timeout=90,
        message="every event in the healthy trails",
    )
    for name in ("s3", "kms"):
        copies = delivered(name)
        assert len(copies) == len(set(copies)), f"{name}: an event delivered twice"
    assert not set(later) & set(delivered("acl")) and not set(later) & set(delivered("ctx"))

    def digests(bucket: str) -> list[str]:
        listing = s3.list_objects_v2(Bucket=bucket, Prefix=f"AWSLogs/{ALICE}/CloudTrail-Digest/")
        return [o["Key"] for o in listing.get("Contents", [])]

    wait_until(
        lambda: digests(buckets["s3"]) and digests(buckets["kms"]),
        timeout=60,
        message="digests of the healthy trails",
    )

    # -- the wire ----------------------------------------------------------------------
    # The digester keeps writing digests: list them first, then read the wire until it
    # holds their puts (the proxy records a request once S3 has answered it).
    listed = {name: set(digests(buckets[name])) for name in ("s3", "kms")}

    def wire_with_listed_digests() -> list[dict[str, Any]]:
        wire = strict.wire()
        paths = {
            str(r["path"]).split("/", 2)[2]
            for r in wire
            if r["method"] == "PUT" and "/AWSLogs/" in str(r["path"])
        }
        return wire if all(keys <= paths for keys in listed.values()) else []

    wire = wait_until(wire_with_listed_digests, timeout=30, message="the digests' puts on the wire")
    ours = [r for r in wire if r["access_key"] == DELIVERY_KEY[0]]
    assert ours and all(r["principal"] == ROLE for r in ours)
    puts = [r for r in ours if r["method"] == "PUT" and "/AWSLogs/" in str(r["path"])]
    for r in puts:
        assert r["headers"]["x-amz-acl"] == ACL, r["path"]

    def stored(name: str, folder: str) -> list[dict[str, Any]]:
        prefix = f"/{buckets[name]}/AWSLogs/{ALICE}/{folder}/"
        return [r for r in puts if str(r["path"]).startswith(prefix) and r["status"] == 200]

    for r in stored("s3", "CloudTrail"):
        assert r["headers"]["x-amz-server-side-encryption"] == "AES256"
        assert "x-amz-server-side-encryption-context" not in r["headers"]
    for r in stored("kms", "CloudTrail"):
        h = r["headers"]
        assert h["x-amz-server-side-encryption"] == "aws:kms"
        assert h["x-amz-server-side-encryption-aws-kms-key-id"] == key
        context = json.loads(base64.b64decode(h["x-amz-server-side-encryption-context"]))
        assert context == {"aws:cloudtrail:arn": arns["kms"]}
    for name in ("s3", "kms"):
        assert stored(name, "CloudTrail"), name
        files = set(read_log_files(strict, buckets[name]))
        assert {str(r["path"]).split("/", 2)[2] for r in stored(name, "CloudTrail")} == files
        digest_puts = stored(name, "CloudTrail-Digest")
        assert {str(r["path"]).split("/", 2)[2] for r in digest_puts} >= listed[name]
        for r in digest_puts:  # digests: SSE-S3 also for the SSE-KMS trail (guide line 10756)
            assert r["headers"]["x-amz-server-side-encryption"] == "AES256"
            assert "x-amz-server-side-encryption-aws-kms-key-id" not in r["headers"]

    refused = {
        r["resource"].split(":::")[-1].split("/")[0]: r
        for r in ours
        if r["refused"] and r["action"] == "s3:PutObject"
    }
    assert refused[buckets["acl"]]["status"] == 403
    assert (
        "because no resource-based policy allows the s3:PutObject action"
        in refused[buckets["acl"]]["refused"]
    )
    assert refused[buckets["ctx"]]["refused"].startswith(
        f"User: {ROLE} is not authorized to perform: kms:GenerateDataKey on resource: {ctx_key}"
    )

    def notices() -> list[dict[str, Any]]:
        return [
            r
            for r in strict.wire()
            if r["access_key"] == DELIVERY_KEY[0]
            and r["service"] == "sns"
            and r["params"].get("Action") == "Publish"
        ]

    files = set(read_log_files(strict, buckets["s3"]))
    wait_until(
        lambda: (
            files
            <= {k for r in notices() for k in json.loads(r["params"]["Message"])["s3ObjectKey"]}
        ),
        timeout=30,
        message="a notice for every log file of the trail with a topic",
    )
    published = notices()
    assert all(r["status"] == 200 and r["region"] == REGION for r in published)
    assert {r["params"]["TopicArn"] for r in published} == {topic}
    for r in published:
        message = json.loads(r["params"]["Message"])
        assert message["s3Bucket"] == buckets["s3"] and len(message["s3ObjectKey"]) == 1
