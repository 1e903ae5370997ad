"""The guide's example policies that grant CloudTrail what delivery needs. Pure.

One builder per resource, shared by everything that sets up a destination (the demo,
the load test and benchmarks, the integration tests): since the writer checks the
grants before it delivers (:mod:`recorder.delivery.grants`), a log bucket, topic or
key without these policies gets its deliveries parked.
"""

from __future__ import annotations

import orjson

from recorder.policies.evaluate import CLOUDTRAIL_SERVICE

_PRINCIPAL = {"Service": CLOUDTRAIL_SERVICE}


def _dumps(policy: dict[str, object]) -> str:
    return orjson.dumps(policy).decode()


def bucket_policy(bucket: str, objects: str | list[str] | None = None) -> str:
    """The bucket policy of lines 10092-10115: ``s3:GetBucketAcl`` on the bucket,
    ``s3:PutObject`` with the ``bucket-owner-full-control`` ACL on ``objects``
    (default: anywhere in the bucket, which covers every account and organization)."""
    return _dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AWSCloudTrailAclCheck20150319",
                    "Effect": "Allow",
                    "Principal": _PRINCIPAL,
                    "Action": "s3:GetBucketAcl",
                    "Resource": f"arn:aws:s3:::{bucket}",
                },
                {
                    "Sid": "AWSCloudTrailWrite20150319",
                    "Effect": "Allow",
                    "Principal": _PRINCIPAL,
                    "Action": "s3:PutObject",
                    "Resource": objects or f"arn:aws:s3:::{bucket}/*",
                    "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}},
                },
            ],
        }
    )


def topic_policy(topic_arn: str) -> str:
    """The topic policy of line 10350: CloudTrail may publish to the topic."""
    return _dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AWSCloudTrailSNSPolicy20131101",
                    "Effect": "Allow",
                    "Principal": _PRINCIPAL,
                    "Action": "SNS:Publish",
                    "Resource": topic_arn,
                }
            ],
        }
    )


def key_policy(account_id: str, trail_accounts: list[str]) -> str:
    """The key policy of lines 10860-10880: the owner administers the key, CloudTrail
    encrypts for the trails of ``trail_accounts`` and describes the key."""
    return _dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "Enable IAM User Permissions",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                },
                {
                    "Sid": "Allow CloudTrail to encrypt logs",
                    "Effect": "Allow",
                    "Principal": _PRINCIPAL,
                    "Action": "kms:GenerateDataKey*",
                    "Resource": "*",
                    "Condition": {
                        "StringLike": {
                            "kms:EncryptionContext:aws:cloudtrail:arn": [
                                f"arn:aws:cloudtrail:*:{a}:trail/*" for a in trail_accounts
                            ]
                        }
                    },
                },
                {
                    "Sid": "Allow CloudTrail to describe key",
                    "Effect": "Allow",
                    "Principal": _PRINCIPAL,
                    "Action": "kms:DescribeKey",
                    "Resource": "*",
                },
            ],
        }
    )


__all__ = ["bucket_policy", "key_policy", "topic_policy"]
