"""Turn botocore parameters and responses into CloudTrail's request/response elements.

CloudTrail writes member names in lowerCamelCase, hides sensitive members as
``HIDDEN_DUE_TO_SECURITY_REASONS`` and leaves payload bodies out. The botocore model
says which members are sensitive or streaming, so we walk the shape rather than
guess from names; names are the fallback for untyped (document) members.

What CloudTrail never logs, beyond the ``sensitive`` trait: the data a call carries
rather than describes. S3 object bodies, Lambda payloads, Kinesis and Firehose record
data, KMS ciphertext blobs are binary (``blob`` in the model) and never appear in an
AWS record; message bodies travel as strings, so they are named per service
(SQS ``MessageBody``/``Body``, SNS ``Message``, CloudWatch Logs event ``message``):
CloudTrail's SQS and SNS data events show the queue or topic and the message
attributes, not the body. Such members are left out, as payload bodies are.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from botocore.model import Shape

HIDDEN = "HIDDEN_DUE_TO_SECURITY_REASONS"

_SENSITIVE_NAMES = frozenset(
    {
        "password",
        "newpassword",
        "oldpassword",
        "secretstring",
        "secretbinary",
        "secretaccesskey",
        "sessiontoken",
        "privatekey",
        "plaintext",
        "clientsecret",
        "authparameters",
    }
)

#: String members that carry a message body rather than describe the call, per
#: endpoint prefix: never logged (see the module docstring).
NEVER_LOGGED: dict[str, frozenset[str]] = {
    "sqs": frozenset({"MessageBody", "Body"}),
    "sns": frozenset({"Message"}),
    "logs": frozenset({"message"}),
}
_NONE: frozenset[str] = frozenset()

#: S3 uses its own element names in CloudTrail (guide data-event examples).
_S3_NAMES = {"Bucket": "bucketName", "Key": "key"}


def camel(name: str) -> str:
    if not name or name[0].islower():
        return name
    # "SSECustomerKey" -> "sSECustomerKey" would be wrong; lower a leading acronym run.
    i = 0
    while i < len(name) and name[i].isupper():
        i += 1
    if i <= 1:
        return name[0].lower() + name[1:]
    if i == len(name):
        return name.lower()
    return name[: i - 1].lower() + name[i - 1 :]


def elements(
    value: Any,
    shape: Shape | None,
    *,
    s3: bool = False,
    top: bool = True,
    omit: frozenset[str] = _NONE,
) -> Any:
    """Render a parameter/response value as CloudTrail JSON, following its shape.

    ``omit`` names members never logged for this service (``NEVER_LOGGED``).
    """
    if shape is not None and (
        shape.metadata.get("sensitive") or shape.serialization.get("eventstream")
    ):
        return HIDDEN
    if isinstance(value, dict):
        members = getattr(shape, "members", None) or {}
        out: dict[str, Any] = {}
        for k, v in value.items():
            if k == "ResponseMetadata":
                continue
            member = members.get(k)
            if k in omit or hasattr(v, "read"):
                continue
            if member is not None and (
                member.serialization.get("streaming")
                or member.metadata.get("streaming")
                or (member.type_name == "blob" and not member.metadata.get("sensitive"))
            ):
                continue  # payload bodies and binary data are never recorded
            key = _S3_NAMES.get(k, camel(k)) if (s3 and top) else camel(str(k))
            if str(k).replace("_", "").lower() in _SENSITIVE_NAMES:
                out[key] = HIDDEN
                continue
            out[key] = elements(v, member, s3=s3, top=False, omit=omit)
        return out
    if isinstance(value, list | tuple):
        item = getattr(shape, "member", None)
        return [elements(v, item, s3=s3, top=False, omit=omit) for v in value]
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.strftime("%b %d, %Y %-I:%M:%S %p")  # CloudTrail's element date form
    if hasattr(value, "read"):
        return None
    return value
