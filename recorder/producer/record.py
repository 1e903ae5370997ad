"""Build one CloudTrail record from a finished botocore call. Pure: no I/O.

Field choices follow the guide's record contents (line 11427) and its data-event
examples (S3 object + bucket resources with the bucket owner's account, line 4830).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from recorder.aws.arn import account_of, partition_for, s3_arn
from recorder.aws.times import format_seconds
from recorder.events import conventions as cv
from recorder.events.classify import LAMBDA_SOURCE, S3_OBJECT_OPERATIONS, S3_SOURCE, classify
from recorder.events.regions import GLOBAL_SERVICE_SOURCES, STS_GLOBAL_HOST, STS_SOURCE
from recorder.events.validate import MAX_BYTES
from recorder.producer.resources import table_resources
from recorder.producer.shapes import render, style_for

EVENT_VERSION = "1.08"


@dataclass(frozen=True, slots=True)
class Identity:
    """Who makes the calls: CloudTrail's ``userIdentity`` (guide line 11795).

    ``session_context`` is the ``sessionContext`` member of temporary credentials
    (an ``AssumedRole`` or ``FederatedUser``): the role that issued the session.
    """

    account_id: str
    access_key_id: str | None = None
    type: str = "IAMUser"
    arn: str | None = None
    principal_id: str | None = None
    user_name: str | None = None
    session_context: Mapping[str, Any] | None = None

    def user_identity(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        out["principalId"] = self.principal_id or self.access_key_id or self.account_id
        out["arn"] = (
            self.arn or f"arn:aws:iam::{self.account_id}:user/{self.user_name or 'recorder'}"
        )
        out["accountId"] = self.account_id
        if self.access_key_id:
            out["accessKeyId"] = self.access_key_id
        if self.type == "IAMUser":
            out["userName"] = self.user_name or out["arn"].rsplit("/", 1)[-1]
        elif self.user_name:
            out["userName"] = self.user_name
        if self.session_context is not None:
            out["sessionContext"] = dict(self.session_context)
        return out


@dataclass(frozen=True, slots=True)
class Call:
    """What the hooks saw of one API call."""

    service_prefix: str  # endpoint prefix: s3, lambda, iam, sts ...
    operation: str
    region: str
    params: Mapping[str, Any]
    input_shape: Any
    output_shape: Any
    parsed: Mapping[str, Any]
    status_code: int
    event_time: dt.datetime
    user_agent: str | None = None
    source_ip: str = "127.0.0.1"
    host: str | None = None
    api_version: str | None = None
    tls: bool = False  # the call went over HTTPS (CloudTrail then records tlsDetails)
    # eventVersion 1.08 members, where the hook can know them (None/False: not known).
    tls_version: str | None = None  # of the request's connection, e.g. "TLSv1.3"
    cipher_suite: str | None = None
    vpc_endpoint_id: str | None = None  # the endpoint is a VPC endpoint (vpce-...)
    # eventVersion 1.09: the endpoint's owner, and the sharedEventID of the caller's
    # record and the owner's network activity record (recorder.producer.network)
    vpc_endpoint_account_id: str | None = None
    shared_event_id: str | None = None
    # userIdentity.inScopeOf: the resource the signing credentials were issued to
    # (recorder.producer.scope), where the hook can know it
    in_scope_of: Mapping[str, str] | None = None
    session_from_console: bool = False  # credentials of a console session
    # What the service model says of the call (None: a record built without a model's
    # service, such as the control API's own; the endpoint prefix then names it).
    service: str | None = None  # botocore service name: s3, lambda, sesv2 ...
    signing_name: str | None = None
    protocol: str | None = None  # ec2, query, json, rest-json, rest-xml
    target_prefix: str | None = None  # the JSON protocol's X-Amz-Target prefix
    request_uri: str | None = None  # the operation's HTTP path and query template
    signature_version: str | None = None  # the signer's: v4, s3v4, ...


#: Where each partition logs its global services (the guide, line 511: "logged as
#: occurring in US East (N. Virginia)" for the aws partition).
#: botocore names a partition's global endpoint ``aws-global``, ``aws-cn-global`` ...
_GLOBAL_HOME = (
    (("cn-", "aws-cn-"), "cn-north-1"),
    (("us-gov-", "aws-us-gov-"), "us-gov-west-1"),
)


def _home_region(client_region: str) -> str:
    for prefixes, home in _GLOBAL_HOME:
        if client_region.startswith(prefixes):
            return home
    return "us-east-1"


def event_region(service_prefix: str, client_region: str | None, host: str | None) -> str:
    """The ``awsRegion`` CloudTrail records for a call made by a client of this region.

    Global services (IAM, CloudFront, Route 53, Organizations, WAF classic) are logged
    in their partition's home region whatever the client's region (botocore names the
    partition endpoint ``aws-global``). STS is global on ``sts.amazonaws.com`` and
    regional on ``sts.<region>.amazonaws.com``; behind any other host (a VPC or local
    endpoint) the client's region says which, ``aws-global`` meaning the global one.
    """
    region = client_region or "us-east-1"
    source = f"{service_prefix}.amazonaws.com"
    if source in GLOBAL_SERVICE_SOURCES:
        return _home_region(region)
    if source == STS_SOURCE and host:
        name = host.lower()
        if name == STS_GLOBAL_HOST:
            return _home_region(region)
        parts = name.split(".")
        if len(parts) >= 4 and parts[0] == "sts" and parts[2] == "amazonaws":
            return parts[1]
    if region == "aws-global" or not region[-1:].isdigit():
        return _home_region(region)
    return region


def names(call: Call) -> tuple[str, str]:
    """(eventSource, eventName) CloudTrail writes for ``call`` (conventions table)."""
    if call.service is None:
        return f"{call.service_prefix}.amazonaws.com", call.operation
    source = cv.event_source_for(call.service, call.signing_name, call.service_prefix)
    bucket = call.params.get("Bucket") if source == S3_SOURCE else None
    if isinstance(bucket, str) and bucket.startswith("arn:") and ":s3-outposts:" in bucket:
        source = cv.S3_OUTPOSTS.value
    return source, cv.event_name_for(call.service, call.operation)


def cloudtrail_names(service_model: Any, operation: str) -> tuple[str, str]:
    """(eventSource, eventName) the hook records a call of ``operation`` under."""
    return names(
        Call(
            service_prefix=service_model.endpoint_prefix,
            operation=operation,
            region="us-east-1",
            params={},
            input_shape=None,
            output_shape=None,
            parsed={},
            status_code=200,
            event_time=dt.datetime.now(dt.UTC),
            service=service_model.service_name,
            signing_name=service_model.signing_name,
        )
    )


def build_record(
    call: Call, identity: Identity, *, bucket_owner: str | None = None
) -> dict[str, Any]:
    source, name = names(call)
    c = classify(source, name)
    failed = call.status_code >= 300
    s3 = source in (S3_SOURCE, cv.S3_OUTPOSTS.value)
    style = style_for(source, name, call.protocol)
    record: dict[str, Any] = {
        "eventVersion": EVENT_VERSION,
        "userIdentity": _with_scope(identity.user_identity(), call.in_scope_of),
        "eventTime": format_seconds(call.event_time),
        "eventSource": source,
        "eventName": name,
        "awsRegion": event_region(call.service_prefix, call.region, call.host),
        "sourceIPAddress": call.source_ip,
        "userAgent": call.user_agent or "recorder",
    }
    if failed:
        error = call.parsed.get("Error", {}) if isinstance(call.parsed, Mapping) else {}
        record["errorCode"] = str(error.get("Code") or f"HTTP{call.status_code}")
        record["errorMessage"] = str(error.get("Message") or "")
        record["eventName"] = cv.denied_event_name(
            source, record["errorCode"], call.operation, name
        )
    request = render(dict(call.params), call.input_shape, style) or {}
    if s3:
        request.update(_s3_request(call))
    if failed and not cv.logs_denied_request(source, record["errorCode"]):
        request = {}
    record["requestParameters"] = request or None
    record["responseElements"] = _response(call, source, name, c.read_only, failed, style)
    if s3:
        record["additionalEventData"] = _s3_additional(call)
    elif (extra := cv.additional_event_data(source, name)) is not None:
        record["additionalEventData"] = extra
    metadata = call.parsed.get("ResponseMetadata", {}) if isinstance(call.parsed, Mapping) else {}
    request_id = metadata.get("RequestId") or metadata.get("HTTPHeaders", {}).get(
        "x-amz-request-id"
    )
    if request_id:
        record["requestID"] = request_id
    record["eventID"] = str(uuid.uuid4())
    record["readOnly"] = c.read_only
    resources = _resources(call, source, name, identity.account_id, bucket_owner, failed)
    if resources:
        record["resources"] = resources
    record["eventType"] = "AwsApiCall"
    api_version = cv.api_version_for(source, name, call.api_version, call.target_prefix)
    if api_version:
        record["apiVersion"] = api_version
    record["managementEvent"] = c.management_event
    record["recipientAccountId"] = identity.account_id
    if call.vpc_endpoint_id:
        record["eventVersion"] = max(record["eventVersion"], "1.09")  # vpcEndpointAccountId
        if call.shared_event_id:
            record["sharedEventID"] = call.shared_event_id
        record["vpcEndpointId"] = call.vpc_endpoint_id
        record["vpcEndpointAccountId"] = call.vpc_endpoint_account_id or identity.account_id
    record["eventCategory"] = c.event_category
    tls = {
        "tlsVersion": call.tls_version,
        "cipherSuite": call.cipher_suite,
        "clientProvidedHostHeader": call.host,
    }
    if call.tls_version or call.cipher_suite or (call.tls and call.host):
        record["tlsDetails"] = {k: v for k, v in tls.items() if v is not None}
    if call.session_from_console:
        record["sessionCredentialFromConsole"] = "true"  # CloudTrail writes it only when true
    return fit(record)


def _with_scope(user: dict[str, Any], scope: Mapping[str, str] | None) -> dict[str, Any]:
    if scope:
        user["inScopeOf"] = dict(scope)
    return user


def _response(call: Call, source: str, name: str, read_only: bool, failed: bool, style: Any) -> Any:
    """responseElements: none for a failed call, nor for one that changes nothing
    (guide line 11542) unless the service writes it (conventions ``READ_RESPONSES``)."""
    if failed or (read_only and not cv.logs_read_response(source, name)):
        return None
    if not isinstance(call.parsed, Mapping):
        return None
    if style.s3:
        return _s3_response(call, dataclasses.replace(style, request=False)) or None
    parsed, shape = dict(call.parsed), call.output_shape
    if style.unwrapped:
        parsed, shape = _unwrap(parsed, shape)
    rendered = render(parsed, shape, dataclasses.replace(style, request=False))
    if style.ec2 and isinstance(rendered, dict):
        request_id = call.parsed.get("ResponseMetadata", {}).get("RequestId")
        if request_id:
            rendered = {"requestId": request_id, **rendered}
    return rendered or None


def _unwrap(parsed: dict[str, Any], shape: Any) -> tuple[dict[str, Any], Any]:
    """The one structure a result holds, and its shape (conventions UNWRAPPED_RESPONSES)."""
    members = getattr(shape, "members", None) or {}
    if len(members) == 1:
        ((name, member),) = members.items()
        inner = parsed.get(name)
        if member.type_name == "structure" and isinstance(inner, Mapping):
            return dict(inner), member
    return parsed, shape


def _s3_request(call: Call) -> dict[str, Any]:
    """What S3 adds to its request elements: the subresource its URI names
    (``?acl`` -> ``"acl": [""]``) and the ``host`` the request went to (the S3 guide's
    examples, ``cloudtrail-logging-understanding-s3-entries``)."""
    out: dict[str, Any] = {}
    uri = call.request_uri or ""
    if "?" in uri:
        for part in uri.split("?", 1)[1].split("&"):
            flag = part.split("=", 1)[0]
            if flag and "=" not in part and flag not in ("x-id",):
                out[flag] = [""]
    if call.host:
        out["host"] = [call.host]
    return out


def _s3_response(call: Call, style: Any) -> dict[str, Any]:
    """S3 writes the response headers it sets (``x-amz-version-id``, ``ETag``), by
    their header names; never the body."""
    shape = call.output_shape
    out: dict[str, Any] = {}
    for key, member in (getattr(shape, "members", None) or {}).items():
        if member.serialization.get("location") == "header" and key in call.parsed:
            value = render(call.parsed[key], member, style)
            if value is not None:
                out[member.serialization.get("name") or key] = value
    return out


def _s3_additional(call: Call) -> dict[str, Any]:
    """``additionalEventData`` of an S3 call: how it was signed and authenticated
    (S3 guide examples: SignatureVersion, CipherSuite, AuthenticationMethod)."""
    out: dict[str, Any] = {}
    version = (call.signature_version or "v4").lower()
    out["SignatureVersion"] = "SigV2" if version in ("s3", "v2", "s3-query") else "SigV4"
    if version.endswith("-query") or version == "s3-presign-post":
        out["AuthenticationMethod"] = "QueryString"
    if call.cipher_suite:
        out["CipherSuite"] = call.cipher_suite
    out.setdefault("AuthenticationMethod", "AuthHeader")
    headers = (
        call.parsed.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        if isinstance(call.parsed, Mapping)
        else {}
    )
    if headers.get("x-amz-id-2"):
        out["x-amz-id-2"] = headers["x-amz-id-2"]
    return out


#: What an omitted member is replaced with. AWS's "CloudTrail record contents" page:
#: "CloudTrail truncates a field if the field's contents exceeds the maximum field
#: size. If a field is truncated, omitted is present with a value of true."
#: ``originalSize`` (bytes of the member as JSON) tells a reader how much is missing.
OMITTED = "omitted"
_ELEMENTS = ("requestParameters", "responseElements", "additionalEventData")
#: Room left under the record limit for what rendering adds (log-file member order).
_MARGIN = 1024


def fit(record: dict[str, Any], max_bytes: int = MAX_BYTES - _MARGIN) -> dict[str, Any]:
    """Omit the largest request/response members until the record fits ``max_bytes``.

    A large call is recorded, not dropped: each omitted member becomes
    ``{"omitted": true, "originalSize": N}`` in place, so the record keeps every other
    member and says which one is missing. Largest first, so as few as possible go.
    """
    size = len(orjson.dumps(record))
    while size > max_bytes:
        found = _largest_member(record)
        if found is None:
            break  # nothing left to omit; validation names the record as too large
        parent, key, member_size = found
        parent[key] = {OMITTED: True, "originalSize": member_size}
        size = len(orjson.dumps(record))
    return record


def _largest_member(record: dict[str, Any]) -> tuple[Any, Any, int] | None:
    """The member to omit: start from the largest element, go down while one child is
    at least half of its parent (so the big member goes, not its small siblings)."""
    best: tuple[Any, Any, int] | None = None
    for name in _ELEMENTS:
        value = record.get(name)
        if isinstance(value, dict) and value and value.get(OMITTED) is not True:
            n = len(orjson.dumps(value))
            if best is None or n > best[2]:
                best = (record, name, n)
    if best is None:
        return None
    parent, key, n = best
    value = parent[key]
    while isinstance(value, dict | list) and value:
        pairs = value.items() if isinstance(value, dict) else enumerate(value)
        sizes = [(k, len(orjson.dumps(v))) for k, v in pairs if not _is_omitted(v)]
        if not sizes:
            break
        child, child_size = max(sizes, key=lambda kv: kv[1])
        if child_size * 2 < n:
            break
        parent, key, n = value, child, child_size
        value = parent[key]
    return parent, key, n


def _is_omitted(value: Any) -> bool:
    return isinstance(value, dict) and value.get(OMITTED) is True


def _resources(
    call: Call,
    source: str,
    name: str,
    account_id: str,
    bucket_owner: str | None,
    failed: bool,
) -> list[dict[str, str]]:
    p = call.params
    if source == S3_SOURCE and "Bucket" in p:
        bucket = str(p["Bucket"])
        expected = p.get("ExpectedBucketOwner")
        # S3 refuses a call whose ExpectedBucketOwner is not an account ID; the record of
        # that failed call names the caller's own account, not the bad value.
        if not (isinstance(expected, str) and len(expected) == 12 and expected.isdigit()):
            expected = None
        owner = str(expected or bucket_owner or account_id)
        out: list[dict[str, str]] = []
        partition = partition_for(call.region)  # arn:aws-cn:s3:::... for a China call
        if "Key" in p:
            out.append(
                {"type": "AWS::S3::Object", "ARN": s3_arn(bucket, p["Key"], partition=partition)}
            )
        elif call.operation in S3_OBJECT_OPERATIONS:  # DeleteObjects: many keys, one prefix
            prefix = s3_arn(bucket, "", partition=partition)
            out.append({"type": "AWS::S3::Object", "ARNPrefix": prefix})
        bucket_arn = s3_arn(bucket, partition=partition)
        out.append({"accountId": owner, "type": "AWS::S3::Bucket", "ARN": bucket_arn})
        return out
    if source == LAMBDA_SOURCE and "FunctionName" in p:
        name = str(p["FunctionName"])
        arn = (
            name
            if name.startswith("arn:")
            else f"arn:{partition_for(call.region)}:lambda:{call.region}:{account_id}:function:{name}"
        )
        return [{"accountId": account_of(arn), "type": "AWS::Lambda::Function", "ARN": arn}]
    response = None if failed or not isinstance(call.parsed, Mapping) else call.parsed
    return table_resources(source, name, p, response, call.region, account_id)
