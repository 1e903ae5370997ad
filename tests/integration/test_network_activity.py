"""Issue 28 item 2: network activity events end to end.

A boto3 KMS client with the producer hook calls through a VPC endpoint: its endpoint
URL is the endpoint's DNS name, and the requests reach moto through ``VpcEndpoint``, an
HTTP proxy on the test machine that stands where the endpoint would be: it forwards
what its policy allows and refuses the rest as AWS's endpoints do (``AccessDeniedException``
naming the VPC endpoint policy). Trails through the real ``aws`` CLI and boto3 against
``recorder run api router writer``; the trail whose advanced selectors take network
activity for ``kms.amazonaws.com`` gets the owner's records under
``CloudTrail-NetworkActivity/``, the trail without gets none; both get the caller's
management events. Invalid network activity selectors answer
``InvalidEventSelectorsException``.
"""

from __future__ import annotations

import contextlib
import gzip
import http.client
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config

from recorder.producer import Identity, KafkaEventSink, install
from recorder.stack.local import LocalStack
from recorder.stack.processes import free_port
from tests.integration.helpers import (
    RecorderProcess,
    aws,
    cloudtrail_bucket,
    holds_for,
    wait_for,
)

pytestmark = pytest.mark.integration

ACCOUNT = "123456789012"  # the control API's local-development key testing/testing
REGION = "us-east-1"
AWS_CLI = str(Path(sys.executable).with_name("aws"))
VPCE = "vpce-0123456789abcdef0"
DENIED_ACTION = "ListAliases"  # what the endpoint's policy does not allow
NETWORK = [
    {"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]},
    {
        "Name": "kms through VPC endpoints",
        "FieldSelectors": [
            {"Field": "eventCategory", "Equals": ["NetworkActivity"]},
            {"Field": "eventSource", "Equals": ["kms.amazonaws.com"]},
        ],
    },
]


class VpcEndpoint:
    """An HTTP proxy in front of moto standing for one interface VPC endpoint: clients
    address the endpoint's DNS name through it; its policy refuses ``DENIED_ACTION``
    with the error AWS answers for a request no VPC endpoint policy allows."""

    def __init__(self, upstream: str) -> None:
        target = urlsplit(upstream)
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                action = (self.headers.get("X-Amz-Target") or "").rpartition(".")[2]
                endpoint.requests.append((urlsplit(self.path).hostname, action))
                if action == DENIED_ACTION:
                    return self._answer(400, _denied(action), "application/x-amz-json-1.1")
                conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() not in ("connection", "host")
                }
                # behind the endpoint is the service: moto finds it under the service's
                # own name, not the endpoint's (the signature is not checked by moto)
                headers["Host"] = f"kms.{REGION}.amazonaws.com"
                conn.request("POST", urlsplit(self.path).path or "/", body, headers)
                reply = conn.getresponse()
                self._answer(reply.status, reply.read(), reply.getheader("Content-Type") or "")
                conn.close()

            def _answer(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.requests: list[tuple[str | None, str]] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _denied(action: str) -> bytes:
    message = (
        f"User: arn:aws:iam::{ACCOUNT}:user/Alice is not authorized to perform: "
        f"kms:{action} because no VPC endpoint policy allows the kms:{action} action"
    )
    return json.dumps({"__type": "AccessDeniedException", "message": message}).encode()


@pytest.fixture(scope="module")
def api(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    work = tmp_path_factory.mktemp("network")
    port = free_port()
    proc = RecorderProcess(
        stack,
        ["api", "router", "writer"],
        work,
        env={"RECORDER_API_PORT": str(port), "RECORDER_CUT_INTERVAL": "1"},
    ).start()
    try:
        yield port
    finally:
        proc.stop()


def _cli(port: int, tmp: Path, *args: str) -> Any:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(tmp / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp / "no-credentials"),
    }
    env.pop("AWS_PROFILE", None)
    done = subprocess.run(
        [AWS_CLI, "cloudtrail", *args, "--endpoint-url", f"http://127.0.0.1:{port}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else None


def _records(stack: LocalStack, bucket: str, folder: str) -> list[dict[str, Any]]:
    s3 = aws(stack, "s3")
    out: list[dict[str, Any]] = []
    prefix = f"AWSLogs/{ACCOUNT}/{folder}/{REGION}/"
    for obj in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []):
        name = obj["Key"].rsplit("/", 1)[1]
        assert name.startswith(f"{ACCOUNT}_{folder}_{REGION}_"), obj["Key"]
        body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
        out += json.loads(gzip.decompress(body))["Records"]
    return out


def test_network_activity_reaches_the_trail_that_selects_it(
    stack: LocalStack, api: int, tmp_path: Path
) -> None:
    for bucket in ("net-logs", "plain-logs"):
        cloudtrail_bucket(aws(stack, "s3"), bucket, f"arn:aws:s3:::{bucket}/AWSLogs/{ACCOUNT}/*")
    _cli(api, tmp_path, "create-trail", "--name", "net", "--s3-bucket-name", "net-logs")
    _cli(api, tmp_path, "create-trail", "--name", "plain", "--s3-bucket-name", "plain-logs")
    put = _cli(
        api,
        tmp_path,
        "put-event-selectors",
        "--trail-name",
        "net",
        "--advanced-event-selectors",
        json.dumps(NETWORK),
    )
    assert put["AdvancedEventSelectors"] == NETWORK
    for name in ("net", "plain"):
        _cli(api, tmp_path, "start-logging", "--name", name)

    endpoint = VpcEndpoint(stack.aws_endpoint_url)
    sink = KafkaEventSink.from_settings(stack.settings(), journal_dir=tmp_path / "journal")
    try:
        session = boto3.Session(
            region_name=REGION, aws_access_key_id="AKIAIOSFODNN7EXAMPLE", aws_secret_access_key="x"
        )
        alice = Identity(
            account_id=ACCOUNT, access_key_id="AKIAIOSFODNN7EXAMPLE", user_name="Alice"
        )
        install(session, sink, identity=alice)
        kms = session.client(
            "kms",
            endpoint_url=f"http://{VPCE}-ab12cd34.kms.{REGION}.vpce.amazonaws.com",
            config=Config(proxies={"http": endpoint.url}, retries={"max_attempts": 1}),
        )
        kms.list_keys()
        with pytest.raises(kms.exceptions.ClientError) as refused:
            kms.list_aliases()
        assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
        assert {a for _, a in endpoint.requests} == {"ListKeys", DENIED_ACTION}
        assert {h for h, _ in endpoint.requests} == {
            f"{VPCE}-ab12cd34.kms.{REGION}.vpce.amazonaws.com"
        }
        assert sink.flush(30)
    finally:
        sink.close()
        endpoint.close()

    network = wait_for(
        lambda: len(r := _records(stack, "net-logs", "CloudTrail-NetworkActivity")) >= 2 and r,
        60,
        what="the two network activity events in the selecting trail's bucket",
    )
    by_name = {r["eventName"]: r for r in network}
    assert sorted(by_name) == ["ListAliases", "ListKeys"] and len(network) == 2
    for r in network:
        assert (r["eventType"], r["eventCategory"]) == ("AwsVpceEvent", "NetworkActivity")
        assert r["eventSource"] == "kms.amazonaws.com" and r["awsRegion"] == REGION
        assert r["vpcEndpointId"] == VPCE
        assert r["recipientAccountId"] == r["vpcEndpointAccountId"] == ACCOUNT
        assert "userAgent" not in r and "requestParameters" not in r and "readOnly" not in r
    assert "errorCode" not in by_name["ListKeys"]
    assert by_name["ListAliases"]["errorCode"] == "VpceAccessDenied"
    assert by_name["ListAliases"]["errorMessage"] == (
        "The request was denied due to a VPC endpoint policy"
    )
    # the callers' own records of the same calls, sharing each call's sharedEventID
    calls = wait_for(
        lambda: (
            len(
                r := [
                    x
                    for x in _records(stack, "plain-logs", "CloudTrail")
                    if x["eventSource"] == "kms.amazonaws.com"
                ]
            )
            >= 2
            and r
        ),
        60,
        what="the management events of the calls in the other trail",
    )
    shared = {r["eventName"]: r["sharedEventID"] for r in calls}
    assert shared == {n: r["sharedEventID"] for n, r in by_name.items()}
    assert all(r["vpcEndpointId"] == VPCE for r in calls)
    # the trail that does not select network activity has no such file
    holds_for(
        lambda: not _records(stack, "plain-logs", "CloudTrail-NetworkActivity"),
        3,
        message="no network activity for the trail without a NetworkActivity selector",
    )


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        (
            [
                {"Field": "eventCategory", "Equals": ["NetworkActivity"]},
                {"Field": "eventSource", "Equals": ["kms.amazonaws.com"]},
                {"Field": "errorCode", "Equals": ["AccessDenied"]},
            ],
            "Value AccessDenied for errorCode",
        ),
        (
            [
                {"Field": "eventCategory", "Equals": ["NetworkActivity"]},
                {"Field": "vpcEndpointId", "Equals": [VPCE]},
            ],
            "need an eventSource field selector",
        ),
    ],
)
def test_invalid_network_activity_selectors_are_refused(
    stack: LocalStack, api: int, fields: list[dict[str, Any]], fragment: str
) -> None:
    ct = boto3.client(
        "cloudtrail",
        endpoint_url=f"http://127.0.0.1:{api}",
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    cloudtrail_bucket(
        aws(stack, "s3"), "refused-logs", f"arn:aws:s3:::refused-logs/AWSLogs/{ACCOUNT}/*"
    )
    with contextlib.suppress(ct.exceptions.TrailAlreadyExistsException):
        ct.create_trail(Name="refused", S3BucketName="refused-logs")
    with pytest.raises(ct.exceptions.InvalidEventSelectorsException) as err:
        ct.put_event_selectors(
            TrailName="refused", AdvancedEventSelectors=[{"FieldSelectors": fields}]
        )
    assert fragment in str(err.value)
