"""The local stack's strict mode: S3, SNS and KMS refusing what AWS would refuse.

    python -m recorder.stack.strict --upstream http://127.0.0.1:5000 --port 5100 \
        --principal AKIDRECORDER=arn:aws:iam::444455556666:role/recorder-writer \
        --own-bucket recorder-digest-keys --record wire.jsonl

moto enforces no bucket, topic or key policy, so every delivery passes there, also
one that AWS refuses. This proxy sits in front of moto and judges each request that
recorder's delivery principal sends (known by the access key it signs with) against
the resource's policy with :mod:`recorder.policies`' evaluator, on a request context
built from the wire alone: the ``x-amz-acl`` and SSE headers of a put, the encryption
context S3 would hand KMS (the ``x-amz-server-side-encryption-context`` header plus
``aws:s3:arn``), the principal's own keys. What the policy does not allow is refused
as AWS refuses it (S3 ``AccessDenied``, SNS ``AuthorizationError``, KMS
``AccessDeniedException``), before moto sees it.

Judged, for the delivery principal:

* S3 on every bucket but the deployment's own (``--own-bucket``: the digest key
  ring's): PutObject (and the SSE-KMS key's ``kms:GenerateDataKey`` for it),
  GetObject/HeadObject, GetBucketPolicy, GetBucketAcl, ListBucket/HeadBucket;
* SNS: Publish, GetTopicAttributes; KMS: DescribeKey, GetKeyPolicy.

An IAM principal is taken to be of another account than every destination (the
log-archive layout), so only a resource policy can allow it. The CloudTrail service
principal reads policies and buckets as the service does, unjudged; its puts,
publishes and SSE-KMS uses are judged (without ``aws:SourceArn``, which the wire does
not carry). Requests signed with any other key are the resources' owners' and pass.
The operator's direct KMS data-key calls (the digest key ring) pass too.

Every request is recorded as one JSON line (``--record``): the service, action and
resource as judged, the signing key, region and principal, the ``x-amz-*`` headers,
an SNS request's parameters, the answer's status and any refusal. The wire tests read
it to assert what recorder's requests carried.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import contextlib
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

import aioboto3
import aiohttp
from aiohttp import web
from botocore.exceptions import ClientError

from recorder.aws.arn import arn_or_none, partition_for, s3_arn
from recorder.policies.evaluate import Decision, Request, evaluate
from recorder.policies.principal import Principal
from recorder.stack import proxy

#: The owners' credentials the proxy reads policies with (moto takes any).
OWNER_KEY = ("testing", "testing")
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")


@dataclass(frozen=True, slots=True)
class Signed:
    access_key: str
    region: str
    service: str


def signed_by(headers: Mapping[str, str]) -> Signed | None:
    """The access key, region and service of a SigV4 ``Authorization`` header."""
    m = _CREDENTIAL.search(headers.get("Authorization", ""))
    return Signed(m.group(1), m.group(2), m.group(3)) if m else None


@dataclass(frozen=True, slots=True)
class Call:
    """One request as an authorizer sees it."""

    service: str  # s3, sns, kms
    action: str
    resource: str  # ARN; for S3 the bucket is ``bucket``
    context: dict[str, str] = field(default_factory=dict)
    bucket: str = ""
    #: Whether the call writes (put, publish): what the service principal is judged on.
    delivers: bool = False
    #: An SSE-KMS put: the key it names and the encryption context S3 passes KMS.
    sse_key: str | None = None
    kms_context: dict[str, str] = field(default_factory=dict)


def s3_call(
    method: str, path: str, query: Mapping[str, str], headers: Mapping[str, str], partition: str
) -> Call | None:
    """A path-style S3 request (``/bucket/key``) as the action it asks for."""
    bucket, _, key = path.lstrip("/").partition("/")
    if not bucket:
        return None  # ListBuckets
    key = unquote(key)
    bucket_arn = s3_arn(bucket, partition=partition)
    if key:
        arn = s3_arn(bucket, key, partition=partition)
        if method == "PUT" and not {"partNumber", "uploadId", "tagging", "acl"} & query.keys():
            if "x-amz-copy-source" in {h.lower() for h in headers}:
                return None
            return _put_object(bucket, key, arn, headers, partition)
        if method in {"GET", "HEAD"} and not query.keys() - {"versionId", "partNumber"}:
            return Call("s3", "s3:GetObject", arn, bucket=bucket)
        return None
    if method == "GET" and "policy" in query:
        return Call("s3", "s3:GetBucketPolicy", bucket_arn, bucket=bucket)
    if method == "GET" and "acl" in query:
        return Call("s3", "s3:GetBucketAcl", bucket_arn, bucket=bucket)
    if method == "HEAD" or (method == "GET" and not query.keys() - _LIST_PARAMETERS):
        return Call("s3", "s3:ListBucket", bucket_arn, bucket=bucket)
    return None


_LIST_PARAMETERS = {
    "list-type",
    "prefix",
    "delimiter",
    "marker",
    "max-keys",
    "continuation-token",
    "start-after",
    "encoding-type",
    "fetch-owner",
}


def _put_object(
    bucket: str, key: str, arn: str, headers: Mapping[str, str], partition: str
) -> Call:
    lower = {k.lower(): v for k, v in headers.items()}
    context = {}
    for name in (
        "x-amz-acl",
        "x-amz-server-side-encryption",
        "x-amz-server-side-encryption-aws-kms-key-id",
    ):
        if name in lower:
            context[f"s3:{name}"] = lower[name]
    sse_key = None
    kms_context: dict[str, str] = {}
    if lower.get("x-amz-server-side-encryption") == "aws:kms":
        sse_key = lower.get("x-amz-server-side-encryption-aws-kms-key-id") or None
        kms_context = {"aws:s3:arn": arn, **_header_context(lower)}
    return Call(
        "s3",
        "s3:PutObject",
        arn,
        context,
        bucket=bucket,
        delivers=True,
        sse_key=sse_key,
        kms_context=kms_context,
    )


def _header_context(lower: Mapping[str, str]) -> dict[str, str]:
    raw = lower.get("x-amz-server-side-encryption-context")
    if not raw:
        return {}
    try:
        value = json.loads(base64.b64decode(raw, validate=True))
    except (binascii.Error, ValueError):
        return {}
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def sns_call(form: Mapping[str, str]) -> Call | None:
    action = form.get("Action")
    topic = form.get("TopicArn", "")
    if action == "Publish" and topic:
        return Call("sns", "SNS:Publish", topic, delivers=True)
    if action == "GetTopicAttributes" and topic:
        return Call("sns", "SNS:GetTopicAttributes", topic)
    return None


def kms_call(target: str, body: Mapping[str, Any]) -> Call | None:
    """KMS reads of a key by recorder's checks (the resource is resolved upstream)."""
    operation = target.rpartition(".")[2]
    if operation in {"DescribeKey", "GetKeyPolicy"} and body.get("KeyId"):
        return Call("kms", f"kms:{operation}", str(body["KeyId"]))
    return None


def refusal(principal: Principal, action: str, resource: str, decision: Decision) -> str:
    """AWS's words for an authorization failure."""
    why = (
        "with an explicit deny in a resource-based policy"
        if decision is Decision.EXPLICIT_DENY
        else f"because no resource-based policy allows the {action} action"
    )
    return f"User: {principal} is not authorized to perform: {action} on resource: {resource} {why}"


class StrictProxy:
    def __init__(
        self,
        upstream: str,
        principals: Mapping[str, Principal],
        own_buckets: frozenset[str] = frozenset(),
        record: Path | None = None,
    ) -> None:
        self.upstream = upstream.rstrip("/")
        self.principals = dict(principals)
        self.own_buckets = own_buckets
        self.record_path = record
        self._session: aiohttp.ClientSession | None = None
        self._aws = aioboto3.Session()
        self._clients = contextlib.AsyncExitStack()
        self._by_region: dict[tuple[str, str], Any] = {}

    # -- the owners' view of the resources ---------------------------------------------
    async def _client(self, service: str, region: str) -> Any:
        if (service, region) not in self._by_region:
            self._by_region[(service, region)] = await self._clients.enter_async_context(
                self._aws.client(
                    service,
                    endpoint_url=self.upstream,
                    region_name=region,
                    aws_access_key_id=OWNER_KEY[0],
                    aws_secret_access_key=OWNER_KEY[1],
                )
            )
        return self._by_region[(service, region)]

    async def _policy(self, call: Call, region: str) -> tuple[str | None, str] | None:
        """The resource's policy (None: none) and its ARN as the policy names it; None
        for a resource that does not exist (the request then meets moto's answer, as it
        meets AWS's: NoSuchBucket, NotFound)."""
        try:
            if call.service == "s3":
                s3 = await self._client("s3", region)
                return (await s3.get_bucket_policy(Bucket=call.bucket))["Policy"], call.resource
            if call.service == "sns":
                sns = await self._client("sns", _region(call.resource, region))
                attributes = await sns.get_topic_attributes(TopicArn=call.resource)
                return attributes["Attributes"].get("Policy"), call.resource
            return await self._key_policy(call.resource, region)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "NoSuchBucketPolicy":
                return None, call.resource
            return None

    async def _key_policy(self, key_id: str, region: str) -> tuple[str | None, str]:
        kms = await self._client("kms", _region(key_id, region))
        arn = str((await kms.describe_key(KeyId=key_id))["KeyMetadata"]["Arn"])
        return (await kms.get_key_policy(KeyId=arn, PolicyName="default"))["Policy"], arn

    # -- judging -------------------------------------------------------------------------
    async def judge(self, call: Call, principal: Principal, region: str) -> str | None:
        """None when AWS would let ``principal`` make the call; else AWS's refusal."""
        if call.service == "s3" and call.bucket in self.own_buckets:
            return None
        if principal.is_service and not call.delivers:
            return None  # the service reads as the service
        found = await self._policy(call, region)
        if found is None:
            return None
        policy, resource = found
        decision = evaluate(policy, Request(call.action, resource, principal, call.context))
        if decision is not Decision.ALLOW:
            return refusal(principal, call.action, resource, decision)
        if call.sse_key is None:
            return None
        try:
            key_policy, key_arn = await self._key_policy(call.sse_key, region)
        except ClientError:
            return None  # no such key: S3 answers that itself
        context = {f"kms:EncryptionContext:{k}": v for k, v in call.kms_context.items()}
        context["kms:ViaService"] = f"s3.{region}.amazonaws.com"
        if not principal.is_service:
            context["kms:CallerAccount"] = principal.account
        request = Request("kms:GenerateDataKey", key_arn, principal, context)
        decision = evaluate(key_policy, request)
        if decision is not Decision.ALLOW:
            return refusal(principal, "kms:GenerateDataKey", key_arn, decision)
        return None

    # -- the wire ------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        signed = signed_by(request.headers)
        principal = self.principals.get(signed.access_key) if signed else None
        call = self._classify(request, body, signed)
        refused = None
        if principal is not None and call is not None and signed is not None:
            refused = await self.judge(call, principal, signed.region)
        if refused is not None and call is not None:
            response = _refuse(call.service, refused)
        else:
            response = await self._forward(request, body)
        self._record(request, body, signed, principal, call, response.status, refused)
        return response

    def _classify(self, request: web.Request, body: bytes, signed: Signed | None) -> Call | None:
        if signed is None:
            return None
        if signed.service == "s3":
            query = dict(parse_qsl(request.query_string, keep_blank_values=True))
            return s3_call(
                request.method,
                request.raw_path.split("?", 1)[0],
                query,
                request.headers,
                partition_for(signed.region),
            )
        if signed.service == "sns":
            return sns_call(dict(parse_qsl(body.decode(errors="replace"))))
        if signed.service == "kms":
            with contextlib.suppress(ValueError):
                return kms_call(request.headers.get("X-Amz-Target", ""), json.loads(body or b"{}"))
        return None

    async def _forward(self, request: web.Request, body: bytes) -> web.Response:
        assert self._session is not None
        return await proxy.forward(self._session, self.upstream, request, body)

    def _record(
        self,
        request: web.Request,
        body: bytes,
        signed: Signed | None,
        principal: Principal | None,
        call: Call | None,
        status: int,
        refused: str | None,
    ) -> None:
        if self.record_path is None:
            return
        entry: dict[str, Any] = {
            "time": time.time(),
            "method": request.method,
            "path": request.raw_path,
            "service": signed.service if signed else None,
            "region": signed.region if signed else None,
            "access_key": signed.access_key if signed else None,
            "principal": str(principal) if principal else None,
            "action": call.action if call else None,
            "resource": call.resource if call else None,
            "headers": {
                k.lower(): v
                for k, v in request.headers.items()
                if k.lower().startswith("x-amz-")
                or k.lower() in {"content-type", "content-encoding"}
            },
            "status": status,
            "refused": refused,
        }
        if signed is not None and signed.service == "sns":
            form = dict(parse_qsl(body.decode(errors="replace")))
            entry["params"] = {k: form[k] for k in ("Action", "TopicArn", "Message") if k in form}
        with self.record_path.open("a") as f:
            f.write(json.dumps(entry) + "\n")

    async def start(self, host: str, port: int) -> web.AppRunner:
        self._session = proxy.session()
        return await proxy.serve(self.handle, host, port)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
        await self._clients.aclose()


def _region(arn: str, default: str) -> str:
    parsed = arn_or_none(arn)
    return parsed.region if parsed is not None and parsed.region else default


def _refuse(service: str, message: str) -> web.Response:
    if service == "kms":
        return web.json_response(
            {"__type": "AccessDeniedException", "message": message},
            status=400,
            headers={"x-amzn-ErrorType": "AccessDeniedException"},
        )
    if service == "sns":
        xml = (
            '<ErrorResponse xmlns="https://sns.amazonaws.com/doc/2010-03-31/"><Error>'
            f"<Type>Sender</Type><Code>AuthorizationError</Code><Message>{_xml(message)}"
            "</Message></Error><RequestId>strict</RequestId></ErrorResponse>"
        )
        return web.Response(status=403, text=xml, content_type="text/xml")
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code>'
        f"<Message>{_xml(message)}</Message><RequestId>strict</RequestId></Error>"
    )
    return web.Response(status=403, text=xml, content_type="application/xml")


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def read_record(path: Path) -> list[dict[str, Any]]:
    """The recorded requests, oldest first."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def parse_principal(spec: str) -> tuple[str, Principal]:
    key, _, principal = spec.partition("=")
    if not key or not principal:
        raise argparse.ArgumentTypeError(f"expected ACCESS_KEY=PRINCIPAL, got {spec!r}")
    try:
        return key, Principal.parse(principal)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


async def _main(args: argparse.Namespace) -> None:
    proxy = StrictProxy(
        args.upstream,
        dict(args.principal or []),
        frozenset(args.own_bucket or []),
        Path(args.record) if args.record else None,
    )
    runner = await proxy.start(args.host, args.port)
    print(f"strict proxy on {args.host}:{args.port} -> {args.upstream}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
        await proxy.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument(
        "--principal",
        action="append",
        type=parse_principal,
        metavar="ACCESS_KEY=PRINCIPAL",
        help="requests signed with ACCESS_KEY are this delivery principal's (repeatable)",
    )
    ap.add_argument("--own-bucket", action="append", help="the deployment's own bucket")
    ap.add_argument("--record", help="append every request here as a JSON line")
    asyncio.run(_main(ap.parse_args()))


if __name__ == "__main__":
    main()
