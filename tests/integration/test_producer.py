"""Issue 13 acceptance for the producer: hooked boto3 and aioboto3 clients, two accounts,
two regions, trails made with the ``aws`` CLI through the control API, and the log
files in S3 holding exactly the records the guide says each trail gets.

Everything is real: ``recorder run api router writer`` as a subprocess on the real
broker and moto; identities come from moto's STS (``CallerIdentityResolver``): an IAM
user and an assumed role in account A, an IAM user in account B (moto keeps accounts
apart by the ``x-moto-account-id`` header when the user is made).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aioboto3
import boto3
import pytest

from recorder.events import EventDecodeError, decode
from recorder.events.regions import is_global_service_event
from recorder.producer import KafkaEventSink, install
from recorder.producer.identity import CallerIdentityResolver
from recorder.stack.local import LocalStack
from recorder.stack.processes import free_port
from tests.integration.helpers import (
    RecorderProcess,
    aws,
    cloudtrail_bucket,
    read_log_files,
    record_batches,
    wait_for,
)

pytestmark = pytest.mark.integration

A = "123456789012"  # moto's default account
B = "222222222222"
API_B_KEY, API_B_SECRET = "AKIDAPIBOBEXAMPLE", "api-bob-secret"
AWS_CLI = str(Path(sys.executable).with_name("aws"))
REGIONS = ("us-east-1", "eu-west-1")


@dataclass
class Keys:
    access_key: str
    secret_key: str
    token: str | None = None

    def session_kwargs(self, region: str) -> dict[str, Any]:
        return {
            "aws_access_key_id": self.access_key,
            "aws_secret_access_key": self.secret_key,
            "aws_session_token": self.token,
            "region_name": region,
        }


@dataclass
class Env:
    stack: LocalStack
    work: Path
    port: int
    alice: Keys
    deployer: Keys
    bob: Keys


def _in_account(client: Any, account: str) -> Any:
    def header(request: Any, **_: Any) -> None:
        request.headers["x-moto-account-id"] = account

    client.meta.events.register("before-sign.*.*", header)
    return client


def _user_keys(stack: LocalStack, account: str, name: str) -> Keys:
    iam = _in_account(aws(stack, "iam"), account)
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return Keys(key["AccessKeyId"], key["SecretAccessKey"])


def _role_keys(stack: LocalStack, user: Keys) -> Keys:
    iam = aws(stack, "iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:root"}, "Action": "sts:*"}
        ],
    }
    role = iam.create_role(RoleName="deployer", AssumeRolePolicyDocument=json.dumps(trust))
    sts = boto3.client(
        "sts", endpoint_url=stack.aws_endpoint_url, **user.session_kwargs("us-east-1")
    )
    c = sts.assume_role(RoleArn=role["Role"]["Arn"], RoleSessionName="build-7")["Credentials"]
    return Keys(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])


def _log_bucket(stack: LocalStack, bucket: str, account: str) -> None:
    cloudtrail_bucket(aws(stack, "s3"), bucket, f"arn:aws:s3:::{bucket}/AWSLogs/{account}/*")


def cli(env: Env, *args: str, key: str = "testing", secret: str = "testing") -> Any:
    done = subprocess.run(
        [AWS_CLI, "cloudtrail", *args, "--endpoint-url", f"http://127.0.0.1:{env.port}"],
        env={
            **os.environ,
            "AWS_ACCESS_KEY_ID": key,
            "AWS_SECRET_ACCESS_KEY": secret,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": str(env.work / "no-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(env.work / "no-credentials"),
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else None


@pytest.fixture(scope="module")
def env(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    work = tmp_path_factory.mktemp("producer")
    alice = _user_keys(stack, A, "alice")
    bob = _user_keys(stack, B, "bob")
    deployer = _role_keys(stack, alice)
    _log_bucket(stack, "a-logs", A)
    _log_bucket(stack, "b-logs", B)
    (work / "credentials.json").write_text(
        json.dumps(
            {
                "credentials": [
                    {"AccessKeyId": "testing", "SecretAccessKey": "testing", "AccountId": A},
                    {"AccessKeyId": API_B_KEY, "SecretAccessKey": API_B_SECRET, "AccountId": B},
                ]
            }
        )
    )
    port = free_port()
    proc = RecorderProcess(
        stack,
        ["api", "router", "writer"],
        work,
        env={
            "RECORDER_API_PORT": str(port),
            "RECORDER_API_CREDENTIALS_FILE": str(work / "credentials.json"),
        },
    )
    proc.start()
    e = Env(stack, work, port, alice, deployer, bob)
    try:
        # A: every management event, S3 objects under a-data/selected/ only, Lambda functions
        cli(e, "create-trail", "--name", "a-trail", "--s3-bucket-name", "a-logs",
            "--is-multi-region-trail")  # fmt: skip
        cli(
            e,
            "put-event-selectors",
            "--trail-name",
            "a-trail",
            "--event-selectors",
            json.dumps(
                [
                    {
                        "ReadWriteType": "All",
                        "IncludeManagementEvents": True,
                        "DataResources": [
                            {
                                "Type": "AWS::S3::Object",
                                "Values": ["arn:aws:s3:::a-data/selected/"],
                            },
                            {"Type": "AWS::Lambda::Function", "Values": ["arn:aws:lambda"]},
                        ],
                    }
                ]
            ),
        )
        cli(e, "start-logging", "--name", "a-trail")
        # B: management events without KMS (the guide's "Exclude AWS KMS events")
        b = {"key": API_B_KEY, "secret": API_B_SECRET}
        cli(e, "create-trail", "--name", "b-trail", "--s3-bucket-name", "b-logs",
            "--is-multi-region-trail", **b)  # fmt: skip
        cli(
            e,
            "put-event-selectors",
            "--trail-name",
            "b-trail",
            "--event-selectors",
            json.dumps(
                [
                    {
                        "ReadWriteType": "All",
                        "IncludeManagementEvents": True,
                        "ExcludeManagementEventSources": ["kms.amazonaws.com"],
                    }
                ]
            ),
            **b,
        )
        cli(e, "start-logging", "--name", "b-trail", **b)
        yield e
    finally:
        proc.stop()


def _sync_calls(session: boto3.Session, endpoint: str, region: str, bucket: str) -> None:
    def c(service: str) -> Any:
        return session.client(service, endpoint_url=endpoint, region_name=region)

    c("iam").list_users()
    c("sts").get_caller_identity()
    s3 = c("s3")
    if region == "us-east-1":
        s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=f"selected/{region}.txt", Body=b"in")
    s3.put_object(Bucket=bucket, Key=f"other/{region}.txt", Body=b"out")
    s3.get_object(Bucket=bucket, Key=f"selected/{region}.txt")["Body"].read()
    c("lambda").list_functions()
    kms = c("kms")
    kms.create_key(Description=f"key in {region}")
    kms.list_keys()
    c("ec2").describe_instances()


async def _async_calls(session: aioboto3.Session, endpoint: str, region: str, bucket: str) -> None:
    async with session.client("iam", endpoint_url=endpoint, region_name=region) as iam:
        await iam.list_users()
    async with session.client("sts", endpoint_url=endpoint, region_name=region) as sts:
        await sts.get_caller_identity()
    async with session.client("s3", endpoint_url=endpoint, region_name=region) as s3:
        await s3.put_object(Bucket=bucket, Key=f"selected/aio-{region}.txt", Body=b"in")
        await s3.put_object(Bucket=bucket, Key=f"other/aio-{region}.txt", Body=b"out")
        got = await s3.get_object(Bucket=bucket, Key=f"selected/aio-{region}.txt")
        await got["Body"].read()
    async with session.client("lambda", endpoint_url=endpoint, region_name=region) as lam:
        await lam.list_functions()
    async with session.client("kms", endpoint_url=endpoint, region_name=region) as kms:
        await kms.list_keys()
    async with session.client("ec2", endpoint_url=endpoint, region_name=region) as ec2:
        await ec2.describe_regions()


def _expected_trail(record: dict[str, Any]) -> str | None:
    """Which trail the guide sends a hooked record to (None: no trail selects it)."""
    account = record["recipientAccountId"]
    if account == A:
        if record["managementEvent"]:
            return "a-trail"
        arns = [r.get("ARN", "") for r in record.get("resources", [])]
        return (
            "a-trail" if any(a.startswith("arn:aws:s3:::a-data/selected/") for a in arns) else None
        )
    if account == B:
        if record["managementEvent"] and record["eventSource"] != "kms.amazonaws.com":
            return "b-trail"
        return None
    raise AssertionError(f"record of an unexpected account: {record['userIdentity']}")


def test_hooked_boto3_and_aioboto3_calls_reach_exactly_their_trails(env: Env) -> None:
    stack = env.stack
    endpoint = stack.aws_endpoint_url
    sink = KafkaEventSink.from_settings(stack.settings(), journal_dir=env.work / "journal")
    resolver = CallerIdentityResolver(endpoint_url=endpoint)
    seen: list[dict[str, Any]] = []

    alice = boto3.Session(**env.alice.session_kwargs("us-east-1"))
    bob = boto3.Session(**env.bob.session_kwargs("us-east-1"))
    deployer = aioboto3.Session(**env.deployer.session_kwargs("us-east-1"))
    bob_aio = aioboto3.Session(**env.bob.session_kwargs("us-east-1"))
    for session in (alice, bob, deployer, bob_aio):
        install(session, sink, resolver=resolver).on_record = seen.append

    for region in REGIONS:
        _sync_calls(alice, endpoint, region, "a-data")
        _sync_calls(bob, endpoint, region, "b-data")

    async def aio() -> None:
        for region in REGIONS:
            await _async_calls(deployer, endpoint, region, "a-data")
            await _async_calls(bob_aio, endpoint, region, "b-data")

    asyncio.run(aio())
    assert sink.flush(60), f"{sink.pending} events not acknowledged by Kafka"
    sink.close()
    assert sink.render_errors == 0

    # identities as STS sees them, one lookup per credential set
    by_key = {r["userIdentity"]["accessKeyId"]: r["userIdentity"] for r in seen}
    assert by_key[env.alice.access_key]["type"] == "IAMUser"
    assert by_key[env.alice.access_key]["arn"] == f"arn:aws:iam::{A}:user/alice"
    assert by_key[env.bob.access_key]["arn"] == f"arn:aws:iam::{B}:user/bob"
    role = by_key[env.deployer.access_key]
    assert role["type"] == "AssumedRole" and role["accountId"] == A
    assert role["sessionContext"]["sessionIssuer"]["arn"] == f"arn:aws:iam::{A}:role/deployer"
    assert resolver.lookups == 3

    expected: dict[str, tuple[str, str]] = {}
    for r in seen:
        trail = _expected_trail(r)
        if trail is not None:
            region = "us-east-1" if is_global_service_event(r) else r["awsRegion"]
            expected[r["eventID"]] = (r["recipientAccountId"], region)
    global_ids = {r["eventID"] for r in seen if is_global_service_event(r)}
    assert {r["eventSource"] for r in seen if r["eventID"] in global_ids} == {
        "iam.amazonaws.com",
        "sts.amazonaws.com",
    }
    assert all(
        r["awsRegion"] == "us-east-1" for r in seen if r["eventSource"] == "iam.amazonaws.com"
    )

    def delivered() -> dict[str, list[tuple[str, str]]] | None:
        found: dict[str, list[tuple[str, str]]] = {}
        for bucket in ("a-logs", "b-logs"):
            for key, records in read_log_files(stack, bucket).items():
                _, account, _, region = key.split("/")[:4]
                for r in records:
                    if r["eventSource"] == "cloudtrail.amazonaws.com":
                        continue  # the control API's own records of the CLI calls
                    found.setdefault(r["eventID"], []).append((account, region))
        return found if set(expected) <= set(found) else None

    found = wait_for(delivered, 120, interval=2, what="every expected record in a log file")
    assert set(found) == set(expected), "records delivered that no trail selects"
    for event_id, place in expected.items():
        assert found[event_id] == [place], (event_id, found[event_id])
    names = {(r["recipientAccountId"], r["eventName"]) for r in seen if r["eventID"] in expected}
    assert (A, "PutObject") in names and (A, "CreateKey") in names
    assert (B, "ListKeys") not in names and (B, "PutObject") not in names
    other = [
        r["eventID"]
        for r in seen
        if str((r.get("requestParameters") or {}).get("key", "")).startswith("other/")
    ]
    assert len(other) == 8  # boto3 and aioboto3, two accounts, two regions
    assert other and not set(other) & set(found)


def test_large_calls_are_delivered_with_the_large_members_omitted_and_marked(env: Env) -> None:
    """A 256 KiB request member and a 1 MiB response member (issue 13 item 9)."""
    stack = env.stack
    endpoint = stack.aws_endpoint_url
    sink = KafkaEventSink.from_settings(stack.settings(), journal_dir=env.work / "journal-large")
    seen: list[dict[str, Any]] = []
    session = boto3.Session(**env.alice.session_kwargs("us-east-1"))
    sqs = session.client("sqs", endpoint_url=endpoint)
    url = sqs.create_queue(QueueName="large-calls")["QueueUrl"]
    install(
        sqs, sink, resolver=CallerIdentityResolver(endpoint_url=endpoint)
    ).on_record = seen.append
    request_value = "r" * (256 * 1024)
    response_value = "R" * (1024 * 1024)
    sqs.send_message(
        QueueUrl=url,
        MessageBody="small body",
        MessageAttributes={"big": {"DataType": "String", "StringValue": request_value}},
    )
    sqs.send_message(
        QueueUrl=url,
        MessageBody="second",
        MessageAttributes={"big": {"DataType": "String", "StringValue": response_value}},
    )
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
    assert any(
        m["MessageAttributes"]["big"]["StringValue"] == response_value for m in got["Messages"]
    )
    assert sink.flush(60)
    sink.close()
    assert sink.render_errors == 0
    send = next(r for r in seen if r["eventName"] == "SendMessage")
    receive = next(r for r in seen if r["eventName"] == "ReceiveMessage")
    ids = {send["eventID"], receive["eventID"]}

    def delivered() -> dict[str, dict[str, Any]] | None:
        found = {
            r["eventID"]: r
            for records in read_log_files(stack, "a-logs").values()
            for r in records
            if r["eventID"] in ids
        }
        return found if set(found) == ids else None

    found = wait_for(delivered, 120, interval=2, what="the two large calls in a log file")
    sent = found[send["eventID"]]["requestParameters"]
    assert sent["queueUrl"] == url and "messageBody" not in sent  # bodies are never logged
    assert sent["messageAttributes"]["big"]["dataType"] == "String"
    assert sent["messageAttributes"]["big"]["stringValue"] == {
        "omitted": True,
        "originalSize": len(request_value) + 2,
    }
    messages = found[receive["eventID"]]["responseElements"]["messages"]
    marks = [m["messageAttributes"]["big"]["stringValue"] for m in messages]
    assert {"omitted": True, "originalSize": len(response_value) + 2} in marks
    assert all("body" not in m for m in messages)


def _event_id(value: bytes) -> str | None:
    try:
        return str(decode(value)["eventID"])
    except EventDecodeError:  # another test's bad record
        return None


def test_the_hook_and_the_router_write_zstd_batches(env: Env) -> None:
    """RECORDER_KAFKA_COMPRESSION is zstd by default: the batches the hook's sink puts in
    api-events and the router's in routed are compressed on the wire, which only the
    broker sees (a consumer gets the records back as they were sent)."""
    stack = env.stack
    sink = KafkaEventSink.from_settings(stack.settings(), journal_dir=env.work / "journal-zstd")
    seen: list[dict[str, Any]] = []
    session = boto3.Session(**env.alice.session_kwargs("us-east-1"))
    sqs = session.client("sqs", endpoint_url=stack.aws_endpoint_url)
    install(
        sqs, sink, resolver=CallerIdentityResolver(endpoint_url=stack.aws_endpoint_url)
    ).on_record = seen.append
    sqs.create_queue(QueueName="compressed-calls")
    assert sink.flush(60)
    sink.close()
    event_id = next(r["eventID"] for r in seen if r["eventName"] == "CreateQueue")
    wait_for(
        lambda: any(
            r["eventID"] == event_id
            for records in read_log_files(stack, "a-logs").values()
            for r in records
        ),
        120,
        interval=2,
        what="the CreateQueue call in a log file",
    )
    settings = stack.settings()
    produced = [
        codec
        for codec, records in asyncio.run(record_batches(stack, settings.topics.api_events))
        for r in records
        if _event_id(r.value) == event_id
    ]
    routed = [
        codec
        for codec, records in asyncio.run(record_batches(stack, settings.topics.routed))
        for r in records
        if ("eventID", event_id.encode()) in list(r.headers)
    ]
    assert produced == ["zstd"]  # one record, in a zstd batch
    assert routed == ["zstd"]  # a-trail's copy
