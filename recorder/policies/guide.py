"""The guide's policies that grant delivery, for a given delivery principal. Pure.

One builder per resource, shared by everything that sets up a destination: ``recorder
policy bucket|topic|key`` (what a tenant applies for this deployment), the demo, the
load test and benchmarks, and the tests. Since the writer checks the grants before it
delivers (:mod:`recorder.delivery.grants`), a log bucket, topic or key without these
policies gets its deliveries parked.

With the service principal ``cloudtrail.amazonaws.com`` (the local stack) the
statements are the guide's, word for word. With an IAM principal (the writer's role
on AWS) the same statements name the role, and one more lets it read the policy
(``s3:GetBucketPolicy``, ``sns:GetTopicAttributes``, ``kms:GetKeyPolicy``): AWS's
CloudTrail reads a policy as the service, recorder as its principal, and in another
account that read needs a grant too; a bucket's also lets it read back digests and
Merkle log tiles (``s3:GetObject`` on ``.../CloudTrail-Digest/*`` and
``.../CloudTrail-Tlog/*``), which the digester does when a digest's key is taken and
when a chain's log is continued from S3.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from recorder.aws.arn import s3_arn
from recorder.policies.principal import CLOUDTRAIL, Principal
from recorder.policies.requests import CONTEXT_KEY, OBJECT_ACL

#: The Sid of the statement that lets an IAM principal read the policy it is checked by.
READ_SID = "RecorderGrantCheck"
#: The Sid of the statement that lets it read back a digest whose key it found taken.
DIGEST_READ_SID = "RecorderDigestReadBack"


def _dumps(policy: dict[str, object], *, indent: bool = False) -> str:
    return orjson.dumps(policy, option=orjson.OPT_INDENT_2 if indent else 0).decode()


def _element(principal: Principal) -> dict[str, str]:
    return {"Service": principal.name} if principal.is_service else {"AWS": principal.name}


def _read_statement(principal: Principal, action: str, resource: str) -> list[dict[str, Any]]:
    if principal.is_service:
        return []
    return [
        {
            "Sid": READ_SID,
            "Effect": "Allow",
            "Principal": _element(principal),
            "Action": action,
            "Resource": resource,
        }
    ]


def bucket_document(
    bucket: str,
    objects: str | list[str] | None = None,
    *,
    principal: Principal = CLOUDTRAIL,
    partition: str = "aws",
) -> dict[str, Any]:
    """The bucket policy of lines 10092-10115: ``s3:GetBucketAcl`` on the bucket,
    ``s3:PutObject`` with the ``bucket-owner-full-control`` ACL on ``objects``
    (default: anywhere in the bucket, which covers every account and organization)."""
    bucket_arn = s3_arn(bucket, partition=partition)
    who = _element(principal)
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AWSCloudTrailAclCheck20150319",
                "Effect": "Allow",
                "Principal": who,
                "Action": "s3:GetBucketAcl",
                "Resource": bucket_arn,
            },
            {
                "Sid": "AWSCloudTrailWrite20150319",
                "Effect": "Allow",
                "Principal": who,
                "Action": "s3:PutObject",
                "Resource": objects or f"{bucket_arn}/*",
                "Condition": {"StringEquals": {"s3:x-amz-acl": OBJECT_ACL}},
            },
            *_read_statement(principal, "s3:GetBucketPolicy", bucket_arn),
            *_digest_read_back(principal, objects or f"{bucket_arn}/*"),
        ],
    }


def _digest_read_back(principal: Principal, objects: str | list[str]) -> list[dict[str, Any]]:
    """The digester puts every digest only if its key is free (If-None-Match) and reads
    the one it finds there (another digester's, or its own before a crash); in another
    account that read needs a grant, on the digest folders only."""
    if principal.is_service:
        return []
    patterns = [objects] if isinstance(objects, str) else objects
    return [
        {
            "Sid": DIGEST_READ_SID,
            "Effect": "Allow",
            "Principal": _element(principal),
            "Action": "s3:GetObject",
            # digests, and the Merkle logs' tiles and checkpoints (read back to continue)
            "Resource": [
                p.removesuffix("*") + f"*{folder}/*"
                for p in patterns
                for folder in ("CloudTrail-Digest", "CloudTrail-Tlog")
            ],
        }
    ]


def bucket_policy(
    bucket: str,
    objects: str | list[str] | None = None,
    *,
    principal: Principal = CLOUDTRAIL,
    partition: str = "aws",
) -> str:
    """:func:`bucket_document` as the JSON text S3's PutBucketPolicy takes."""
    return _dumps(bucket_document(bucket, objects, principal=principal, partition=partition))


def topic_document(topic_arn: str, *, principal: Principal = CLOUDTRAIL) -> dict[str, Any]:
    """The topic policy of line 10350: the principal may publish to the topic."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AWSCloudTrailSNSPolicy20131101",
                "Effect": "Allow",
                "Principal": _element(principal),
                "Action": "SNS:Publish",
                "Resource": topic_arn,
            },
            *_read_statement(principal, "SNS:GetTopicAttributes", topic_arn),
        ],
    }


def topic_policy(topic_arn: str, *, principal: Principal = CLOUDTRAIL) -> str:
    return _dumps(topic_document(topic_arn, principal=principal))


def key_document(
    account_id: str,
    trail_accounts: Iterable[str],
    *,
    principal: Principal = CLOUDTRAIL,
    partition: str = "aws",
) -> dict[str, Any]:
    """The key policy of lines 10860-10880: the owner administers the key, the principal
    encrypts for the trails of ``trail_accounts`` (the encryption context names the
    trail) and describes the key."""
    who = _element(principal)
    trails = [f"arn:{partition}:cloudtrail:*:{a}:trail/*" for a in trail_accounts]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Enable IAM User Permissions",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "Allow CloudTrail to encrypt logs",
                "Effect": "Allow",
                "Principal": who,
                "Action": "kms:GenerateDataKey*",
                "Resource": "*",
                "Condition": {"StringLike": {f"kms:EncryptionContext:{CONTEXT_KEY}": trails}},
            },
            {
                "Sid": "Allow CloudTrail to describe key",
                "Effect": "Allow",
                "Principal": who,
                "Action": "kms:DescribeKey",
                "Resource": "*",
            },
            *_read_statement(principal, "kms:GetKeyPolicy", "*"),
        ],
    }


def key_policy(
    account_id: str,
    trail_accounts: list[str],
    *,
    principal: Principal = CLOUDTRAIL,
    partition: str = "aws",
) -> str:
    return _dumps(
        key_document(account_id, trail_accounts, principal=principal, partition=partition)
    )


def pretty(document: dict[str, Any]) -> str:
    """A policy document as ``recorder policy`` prints it (for ``file://policy.json``)."""
    return _dumps(document, indent=True)


__all__ = [
    "DIGEST_READ_SID",
    "READ_SID",
    "bucket_document",
    "bucket_policy",
    "key_document",
    "key_policy",
    "pretty",
    "topic_document",
    "topic_policy",
]
