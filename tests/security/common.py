"""What the security tests share: an API process with known principals, raw signed
requests, and a view of the registry as the `trails` topic holds it."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from aiokafka import AIOKafkaConsumer, TopicPartition
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from recorder.api.protocol import target_prefix
from recorder.stack.local import LocalStack
from recorder.stack.processes import free_port
from tests.integration.helpers import RecorderProcess

ALICE = "123456789012"  # also moto's account: Alice's resources live there
BOB = "222222222222"
ALICE_KEY, ALICE_SECRET = "AKIDALICE", "alice-secret"
BOB_KEY, BOB_SECRET = "AKIDBOB", "bob-secret"
AUDITOR_KEY, AUDITOR_SECRET = "AKIDAUDITOR", "auditor-secret"
CAROL_KEY, CAROL_SECRET = "AKIDCAROL", "carol-secret"  # account 333333333333
FUZZ_KEY, FUZZ_SECRET = "AKIDFUZZ", "fuzz-secret"  # account 444444444444
REGION = "us-east-1"


def write_credentials(path: Path) -> Path:
    path.write_text(
        json.dumps(
            {
                "credentials": [
                    {"AccessKeyId": ALICE_KEY, "SecretAccessKey": ALICE_SECRET, "AccountId": ALICE},
                    {"AccessKeyId": BOB_KEY, "SecretAccessKey": BOB_SECRET, "AccountId": BOB},
                    {
                        "AccessKeyId": AUDITOR_KEY,
                        "SecretAccessKey": AUDITOR_SECRET,
                        "AccountId": ALICE,
                        "UserName": "auditor",
                        "Actions": ["Describe*", "Get*", "List*"],
                    },
                    {
                        "AccessKeyId": CAROL_KEY,
                        "SecretAccessKey": CAROL_SECRET,
                        "AccountId": "333333333333",
                    },
                    {
                        "AccessKeyId": FUZZ_KEY,
                        "SecretAccessKey": FUZZ_SECRET,
                        "AccountId": "444444444444",
                    },
                ]
            }
        )
    )
    return path


def start_api(stack: LocalStack, work: Path, env: dict[str, str]) -> tuple[RecorderProcess, int]:
    """An API process with the credentials above (no local-development key)."""
    port = free_port()
    work.mkdir(parents=True, exist_ok=True)
    proc = RecorderProcess(
        stack,
        ["api"],
        work,
        env={
            "RECORDER_API_PORT": str(port),
            "RECORDER_API_CREDENTIALS_FILE": str(write_credentials(work / "credentials.json")),
            "RECORDER_API_LOCAL_DEVELOPMENT": "false",
            **env,
        },
    )
    proc.start()
    return proc, port


def cloudtrail(port: int, key: str, secret: str, region: str = REGION, **config: Any) -> Any:
    return boto3.client(
        "cloudtrail",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name=region,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(retries={"total_max_attempts": 1}, **config),
    )


@dataclass
class Raw:
    status: int
    body: dict[str, Any]


def signed(
    port: int,
    operation: str,
    body: bytes,
    key: str,
    secret: str,
    region: str = REGION,
    at: dt.datetime | None = None,
    unsigned_payload: bool = False,
) -> AWSRequest:
    """A request signed as botocore signs it (optionally at another time). With
    ``unsigned_payload`` the body's hash is left out of the signature as S3 allows:
    ``x-amz-content-sha256: UNSIGNED-PAYLOAD``, signed as that literal string."""
    headers = {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": f"{target_prefix()}.{operation}",
    }
    if unsigned_payload:
        headers["X-Amz-Content-SHA256"] = "UNSIGNED-PAYLOAD"
    request = AWSRequest(method="POST", url=f"http://127.0.0.1:{port}/", data=body, headers=headers)
    signer = SigV4Auth(Credentials(key, secret), "cloudtrail", region)
    if at is not None:
        request.context["timestamp"] = at.strftime("%Y%m%dT%H%M%SZ")
        signer._modify_request_before_signing(request)  # as add_auth does, with our time
        canonical = signer.canonical_request(request)
        string_to_sign = signer.string_to_sign(request, canonical)
        signature = signer.signature(string_to_sign, request)
        signer._inject_signature_to_request(request, signature)
    else:
        signer.add_auth(request)
    return request


def send(request: AWSRequest, body: bytes | None = None) -> Raw:
    """POST a prepared request as-is (``body`` replaces the signed body: tampering)."""
    data = request.body if body is None else body
    if isinstance(data, str):
        data = data.encode()
    req = urllib.request.Request(
        request.url, data=data, headers=dict(request.headers.items()), method="POST"
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return Raw(resp.status, json.loads(resp.read() or b"{}"))
    except urllib.error.HTTPError as exc:
        return Raw(exc.code, json.loads(exc.read() or b"{}"))


def registry(stack: LocalStack) -> dict[str, Any]:
    """Every trail record on the `trails` topic (the registry every process loads),
    key -> list of values in order; lease records are not registry content."""

    async def read() -> dict[str, Any]:
        consumer = AIOKafkaConsumer(bootstrap_servers=stack.bootstrap_servers)
        await consumer.start()
        try:
            tp = TopicPartition("trails", 0)
            consumer.assign([tp])
            await consumer.seek_to_beginning(tp)
            end = (await consumer.end_offsets([tp]))[tp]
            out: dict[str, Any] = {}
            while await consumer.position(tp) < end:
                batch = await consumer.getmany(tp, timeout_ms=1000)
                for m in batch.get(tp, []):
                    key = (m.key or b"").decode()
                    if not key.startswith("lease/"):
                        value = None if m.value is None else json.loads(m.value)
                        out.setdefault(key, []).append(value)
            return out
        finally:
            await consumer.stop()

    return asyncio.run(read())
