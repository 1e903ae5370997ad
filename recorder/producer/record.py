"""Build one CloudTrail record from a finished botocore call. Pure: no I/O.

Field choices follow the guide's record contents (line 11427) and its data-event
examples (S3 object + bucket resources with the bucket owner's account, line 4830).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from recorder.events.classify import LAMBDA_SOURCE, S3_SOURCE, classify
from recorder.producer.shapes import elements

EVENT_VERSION = "1.08"


@dataclass(frozen=True, slots=True)
class Identity:
    """Who makes the calls: CloudTrail's ``userIdentity`` (guide line 11795)."""

    account_id: str
    access_key_id: str | None = None
    type: str = "IAMUser"
    arn: str | None = None
    principal_id: str | None = None
    user_name: str | None = None

    def user_identity(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        out["principalId"] = self.principal_id or self.access_key_id or self.account_id
        out["arn"] = (
            self.arn or f"arn:aws:iam::{self.account_id}:user/{self.user_name or 'recorder'}"
        )
        out["accountId"] = self.account_id
        if self.access_key_id:
            out["accessKeyId"] = self.access_key_id
        out["userName"] = self.user_name or out["arn"].rsplit("/", 1)[-1]
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
    # eventVersion 1.08 members, where the hook can know them (None/False: not known).
    tls_version: str | None = None  # of the request's connection, e.g. "TLSv1.3"
    cipher_suite: str | None = None
    vpc_endpoint_id: str | None = None  # the endpoint is a VPC endpoint (vpce-...)
    session_from_console: bool = False  # credentials of a console session


def build_record(
    call: Call, identity: Identity, *, bucket_owner: str | None = None
) -> dict[str, Any]:
    source = f"{call.service_prefix}.amazonaws.com"
    c = classify(source, call.operation)
    failed = call.status_code >= 300
    s3 = call.service_prefix == "s3"
    record: dict[str, Any] = {
        "eventVersion": EVENT_VERSION,
        "userIdentity": identity.user_identity(),
        "eventTime": call.event_time.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": source,
        "eventName": call.operation,
        "awsRegion": call.region,
        "sourceIPAddress": call.source_ip,
        "userAgent": call.user_agent or "recorder",
    }
    if failed:
        error = call.parsed.get("Error", {}) if isinstance(call.parsed, Mapping) else {}
        record["errorCode"] = str(error.get("Code") or f"HTTP{call.status_code}")
        record["errorMessage"] = str(error.get("Message") or "")
    record["requestParameters"] = elements(dict(call.params), call.input_shape, s3=s3) or None
    if failed or c.read_only:
        record["responseElements"] = None
    else:
        rendered = elements(dict(call.parsed), call.output_shape)
        record["responseElements"] = rendered or None
    metadata = call.parsed.get("ResponseMetadata", {}) if isinstance(call.parsed, Mapping) else {}
    request_id = metadata.get("RequestId") or metadata.get("HTTPHeaders", {}).get(
        "x-amz-request-id"
    )
    if request_id:
        record["requestID"] = request_id
    record["eventID"] = str(uuid.uuid4())
    record["readOnly"] = c.read_only
    resources = _resources(call, source, identity.account_id, bucket_owner)
    if resources:
        record["resources"] = resources
    record["eventType"] = "AwsApiCall"
    if call.api_version and s3:
        record["apiVersion"] = call.api_version
    record["managementEvent"] = c.management_event
    record["recipientAccountId"] = identity.account_id
    if call.vpc_endpoint_id:
        record["vpcEndpointId"] = call.vpc_endpoint_id
    record["eventCategory"] = c.event_category
    if call.tls_version or call.cipher_suite:
        tls = {"tlsVersion": call.tls_version, "cipherSuite": call.cipher_suite}
        tls["clientProvidedHostHeader"] = call.host
        record["tlsDetails"] = {k: v for k, v in tls.items() if v is not None}
    if call.session_from_console:
        record["sessionCredentialFromConsole"] = "true"  # CloudTrail writes it only when true
    return record


def _resources(
    call: Call, source: str, account_id: str, bucket_owner: str | None
) -> list[dict[str, str]]:
    p = call.params
    if source == S3_SOURCE and "Bucket" in p:
        bucket = str(p["Bucket"])
        owner = str(p.get("ExpectedBucketOwner") or bucket_owner or account_id)
        out: list[dict[str, str]] = []
        if "Key" in p:
            out.append({"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/{p['Key']}"})
        out.append({"accountId": owner, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"})
        return out
    if source == LAMBDA_SOURCE and "FunctionName" in p:
        name = str(p["FunctionName"])
        arn = (
            name
            if name.startswith("arn:")
            else (f"arn:aws:lambda:{call.region}:{account_id}:function:{name}")
        )
        return [{"accountId": arn.split(":")[4], "type": "AWS::Lambda::Function", "ARN": arn}]
    return []
