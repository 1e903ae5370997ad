"""Classify an API call the way CloudTrail does: management or data event, read-only or not.

Pure: ``(eventSource, eventName) -> Classification``. The producer uses it to fill
``readOnly``/``managementEvent``/``eventCategory``; the router and ``recorder route``
use it for records that arrive without them (guide lines 4712-4935).
"""

from __future__ import annotations

from dataclasses import dataclass

S3_SOURCE = "s3.amazonaws.com"
LAMBDA_SOURCE = "lambda.amazonaws.com"

#: S3 object-level operations: CloudTrail data events on ``AWS::S3::Object`` (line 4738).
S3_OBJECT_OPERATIONS: frozenset[str] = frozenset(
    {
        "AbortMultipartUpload",
        "CompleteMultipartUpload",
        "CopyObject",
        "CreateMultipartUpload",
        "DeleteObject",
        "DeleteObjectTagging",
        "DeleteObjects",
        "GetObject",
        "GetObjectAcl",
        "GetObjectAttributes",
        "GetObjectLegalHold",
        "GetObjectRetention",
        "GetObjectTagging",
        "GetObjectTorrent",
        "HeadObject",
        "ListParts",
        "PutObject",
        "PutObjectAcl",
        "PutObjectLegalHold",
        "PutObjectRetention",
        "PutObjectTagging",
        "RestoreObject",
        "SelectObjectContent",
        "UploadPart",
        "UploadPartCopy",
    }
)

#: Lambda function execution: data events on ``AWS::Lambda::Function`` (line 4739).
LAMBDA_DATA_OPERATIONS: frozenset[str] = frozenset(
    {"Invoke", "InvokeAsync", "InvokeWithResponseStream"}
)

_READ_PREFIXES = (
    "Get",
    "List",
    "Describe",
    "Head",
    "Lookup",
    "Search",
    "Select",
    "Scan",
    "Query",
    "BatchGet",
    "Check",
    "Validate",
    "Test",
    "Verify",
    "Estimate",
    "Preview",
    "Simulate",
    "View",
)

#: Operations whose names do not say that they only read, but do.
_READ_ONLY_EXTRA: frozenset[str] = frozenset(
    {
        "Decrypt",  # KMS: returns plaintext, changes nothing
        "Encrypt",
        "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext",
        "GenerateRandom",
        "GenerateMac",
        "Sign",
        "ReEncrypt",
        "AssumeRole",  # STS issues credentials; CloudTrail records these as read-only
        "AssumeRoleWithSAML",
        "AssumeRoleWithWebIdentity",
        "GetCallerIdentity",
    }
)


@dataclass(frozen=True, slots=True)
class Classification:
    read_only: bool
    management_event: bool
    event_category: str  # "Management" or "Data"


def is_data_event(event_source: str, event_name: str) -> bool:
    if event_source == S3_SOURCE:
        return event_name in S3_OBJECT_OPERATIONS
    if event_source == LAMBDA_SOURCE:
        return event_name in LAMBDA_DATA_OPERATIONS
    return False


def is_read_only(event_name: str) -> bool:
    if event_name in _READ_ONLY_EXTRA:
        return True
    return event_name.startswith(_READ_PREFIXES)


def classify(event_source: str, event_name: str) -> Classification:
    data = is_data_event(event_source, event_name)
    return Classification(
        read_only=is_read_only(event_name),
        management_event=not data,
        event_category="Data" if data else "Management",
    )
