"""The whole request pipeline in-process, driven by a real boto3 client: signing,
routing by X-Amz-Target, validation, output shaping, modelled exceptions, and that
nothing a client sends can break the server."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections.abc import AsyncIterator
from typing import Any

import boto3
import pytest
from aiohttp import web
from botocore.config import Config
from botocore.exceptions import ClientError
from prometheus_client import generate_latest

from recorder.api.auth import CredentialStore
from recorder.api.operations import Operations
from recorder.api.service import Api, ApiMetrics
from recorder.api.store import MemoryStore
from recorder.obs.metrics import Metrics
from recorder.stack.processes import free_port
from tests.unit.api.doubles import FakeChecks

CREDS = CredentialStore.from_document(
    {
        "credentials": [
            {"AccessKeyId": "AKA", "SecretAccessKey": "sa", "AccountId": "111111111111"},
            {"AccessKeyId": "AKB", "SecretAccessKey": "sb", "AccountId": "222222222222"},
        ]
    }
)


class Server:
    def __init__(self, api: Api, port: int, metrics: Metrics) -> None:
        self.api, self.port, self.metrics = api, port, metrics
        self.url = f"http://127.0.0.1:{port}"

    def client(self, key: str = "AKA", secret: str = "sa", region: str = "us-east-2") -> Any:
        return boto3.client(
            "cloudtrail",
            endpoint_url=self.url,
            region_name=region,
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
        )


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    metrics = Metrics()
    ops = Operations(store=MemoryStore(), checks=FakeChecks())
    api = Api(ops, CREDS, ApiMetrics.on(metrics))
    runner = web.AppRunner(api.app())
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield Server(api, port, metrics)
    finally:
        await runner.cleanup()


def run(fn: Any, *args: Any, **kwargs: Any) -> Any:
    return asyncio.to_thread(fn, *args, **kwargs)


async def test_boto3_round_trip(server: Server) -> None:
    ct = server.client()
    created = await run(ct.create_trail, Name="my-trail", S3BucketName="my-bucket")
    assert created["TrailARN"] == "arn:aws:cloudtrail:us-east-2:111111111111:trail/my-trail"
    assert "HomeRegion" not in created  # not in CreateTrail's output shape
    trail = (await run(ct.get_trail, Name="my-trail"))["Trail"]
    assert trail["HomeRegion"] == "us-east-2"
    assert "IsLogging" not in trail and "Tags" not in trail
    await run(ct.start_logging, Name="my-trail")
    status = await run(ct.get_trail_status, Name="my-trail")
    assert status["IsLogging"] is True
    assert status["StartLoggingTime"].tzinfo is not None  # parsed from epoch seconds
    assert status["ResponseMetadata"]["RequestId"]


async def test_modelled_exceptions(server: Server) -> None:
    ct = server.client()
    with pytest.raises(ct.exceptions.TrailNotFoundException):
        await run(ct.get_trail, Name="absent")
    await run(ct.create_trail, Name="trail-t", S3BucketName="my-bucket")
    with pytest.raises(ct.exceptions.TrailAlreadyExistsException):
        await run(ct.create_trail, Name="trail-t", S3BucketName="my-bucket")
    with pytest.raises(ct.exceptions.S3BucketDoesNotExistException):
        await run(ct.create_trail, Name="trail-u", S3BucketName="absent-bucket")
    await run(ct.create_trail, Name="trail-m", S3BucketName="my-bucket", IsMultiRegionTrail=True)
    with pytest.raises(ct.exceptions.InvalidHomeRegionException):
        await run(server.client(region="eu-west-1").delete_trail, Name="trail-m")


async def test_accounts_are_isolated(server: Server) -> None:
    a, b = server.client(), server.client("AKB", "sb")
    arn = (await run(a.create_trail, Name="trail-t", S3BucketName="my-bucket"))["TrailARN"]
    assert (await run(b.describe_trails))["trailList"] == []
    with pytest.raises(b.exceptions.TrailNotFoundException):
        await run(b.get_trail_status, Name=arn)


@pytest.mark.parametrize(
    ("key", "secret", "code"),
    [("AKA", "wrong", "InvalidSignatureException"), ("AKX", "sa", "UnrecognizedClientException")],
)
async def test_bad_credentials(server: Server, key: str, secret: str, code: str) -> None:
    with pytest.raises(ClientError) as info:
        await run(server.client(key, secret).list_trails)
    assert info.value.response["Error"]["Code"] == code
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def raw(server: Server, body: bytes, headers: dict[str, str], method: str = "POST") -> Any:
    req = urllib.request.Request(server.url + "/", data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


async def test_unsigned_and_garbage_requests(server: Server) -> None:
    target = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.ListTrails"
    status, body = await run(raw, server, b"{}", {"X-Amz-Target": target})
    assert (status, body["__type"]) == (400, "MissingAuthenticationTokenException")
    status, body = await run(raw, server, b"\x00\xff" * 100, {"Authorization": "AWS4-HMAC-SHA256"})
    assert body["__type"] == "IncompleteSignatureException"
    status, body = await run(raw, server, b"", {}, "GET")
    assert body["__type"] == "UnknownOperationException"
    status, body = await run(raw, server, b"x" * (2 * 1024 * 1024), {})
    assert status == 413


async def test_signed_but_malformed(server: Server) -> None:
    """A correctly signed request with a bad body or target: botocore's own signer, raw
    bodies through its before-send hook."""
    ct = server.client()

    def send_raw(body: bytes, target: str | None = None) -> Any:
        def swap(request: Any, **_: Any) -> None:
            request.data = body
            if target is not None:
                del request.headers["X-Amz-Target"]
                request.headers["X-Amz-Target"] = target

        ct.meta.events.register_first("before-sign.cloudtrail.ListTrails", swap)
        try:
            return ct.list_trails()
        finally:
            ct.meta.events.unregister("before-sign.cloudtrail.ListTrails", swap)

    for body, target, code in (
        (b"{oops", None, "SerializationException"),
        (b'{"NextToken": 5}', None, "ValidationException"),
        (b"{}", "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.Nope", "UnknownOperation"),
    ):
        with pytest.raises(ClientError) as info:
            await run(send_raw, body, target)
        assert info.value.response["Error"]["Code"].startswith(code)


async def test_internal_failure_is_a_500_not_a_crash(server: Server) -> None:
    async def boom(caller: Any, params: Any) -> Any:
        raise RuntimeError("bug")

    server.api.operations.handlers["ListTrails"] = boom
    ct = server.client()
    with pytest.raises(ClientError) as info:
        await run(ct.list_trails)
    assert info.value.response["Error"]["Code"] == "InternalFailure"
    server.api.operations.handlers.pop("ListTrails")
    text = generate_latest(server.metrics.registry).decode()
    assert (
        'recorder_api_requests_total{code="InternalFailure",operation="ListTrails",status="500"} 1.0'
        in text
    )


def _random_json(rng: Any, depth: int = 0) -> Any:
    kinds = ["str", "int", "bool", "null", "float"] + (["list", "dict"] if depth < 3 else [])
    kind = rng.choice(kinds)
    if kind == "str":
        return rng.choice(["", "a", "my-trail", "arn:aws:cloudtrail:x", "\u00e9\x00", "x" * 300])
    if kind == "int":
        return rng.choice([0, -1, 2**63, 5])
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "null":
        return None
    if kind == "float":
        return rng.choice([1e308, -0.0, 1441068842.76])
    if kind == "list":
        return [_random_json(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    keys = [
        "Name",
        "TrailName",
        "S3BucketName",
        "EventSelectors",
        "AdvancedEventSelectors",
        "TagsList",
        "ResourceId",
        "ResourceIdList",
        "NextToken",
        "StartTime",
        "trailNameList",
        "Values",
        "Type",
        "FieldSelectors",
        "Key",
        "Value",
    ]
    return {rng.choice(keys): _random_json(rng, depth + 1) for _ in range(rng.randint(0, 4))}


async def test_random_signed_bodies_never_break_the_server(server: Server) -> None:
    """Signed requests with random JSON for every operation: always a JSON answer with
    a 200 or a 4xx CloudTrail error, never a 500."""
    import random

    from aiohttp import ClientSession
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    from recorder.api.protocol import service_model

    rng = random.Random(6)
    operations = sorted(server.api.operations.handlers)
    async with ClientSession() as session:
        for _ in range(400):
            op = rng.choice(operations)
            params = _random_json(rng)
            if not isinstance(params, dict) and rng.random() < 0.8:
                params = {}
            if isinstance(params, dict) and rng.random() < 0.5:  # the shape of a real request
                params = {"Name": "my-trail", "TrailName": "my-trail", **params}
            body = json.dumps(params).encode()
            request = AWSRequest(
                method="POST",
                url=server.url + "/",
                data=body,
                headers={
                    "X-Amz-Target": f"{service_model().metadata['targetPrefix']}.{op}",
                    "Content-Type": "application/x-amz-json-1.1",
                },
            )
            SigV4Auth(Credentials("AKA", "sa"), "cloudtrail", "us-east-2").add_auth(request)
            async with session.post(
                server.url + "/", data=body, headers=dict(request.headers.items())
            ) as response:
                answer = await response.json(content_type=None)
                assert response.status < 500, (op, params, answer)
                if response.status != 200:
                    assert set(answer) == {"__type", "message"}, answer
