"""What CloudTrail's own requests carry, so that the guide's policies allow them. Pure.

The guide's bucket policy lets CloudTrail put objects only with the
``bucket-owner-full-control`` ACL (``"s3:x-amz-acl"`` condition, lines 10092-10115),
and its key policy lets CloudTrail use a KMS key only for an encryption context
naming a trail (``kms:EncryptionContext:aws:cloudtrail:arn``, lines 10860-10880). A
real bucket or key with those policies refuses a put that lacks either, so every
put of a log file or digest is built here, and the grant checks
(:mod:`recorder.policies.grants`) evaluate the policies with the same values.
"""

from __future__ import annotations

import base64

import orjson

#: The canned ACL CloudTrail puts every object with: the bucket's owner, often another
#: account than the writer's, owns and controls what is delivered into its bucket.
OBJECT_ACL = "bucket-owner-full-control"
#: The encryption context key CloudTrail asks KMS for; its value is the trail's ARN.
CONTEXT_KEY = "aws:cloudtrail:arn"


def encryption_context(trail_arn: str) -> dict[str, str]:
    """The encryption context of an SSE-KMS log file of ``trail_arn``."""
    return {CONTEXT_KEY: trail_arn}


def object_put_params(*, trail_arn: str = "", kms_key_id: str | None = None) -> dict[str, str]:
    """The PutObject parameters (boto3 names) that every delivered object carries:
    the owner's ACL, and SSE-S3, or SSE-KMS with the key and the trail's encryption
    context (S3 sends it to KMS with its own ``aws:s3:arn`` pair)."""
    params = {"ACL": OBJECT_ACL, "ServerSideEncryption": "AES256"}
    if kms_key_id:
        if not trail_arn:
            raise ValueError("an SSE-KMS put needs the trail's ARN for its encryption context")
        context = orjson.dumps(encryption_context(trail_arn))
        params |= {
            "ServerSideEncryption": "aws:kms",
            "SSEKMSKeyId": kms_key_id,
            "SSEKMSEncryptionContext": base64.b64encode(context).decode(),
        }
    return params


__all__ = ["CONTEXT_KEY", "OBJECT_ACL", "encryption_context", "object_put_params"]
