"""What CloudTrail needs the owner of each destination to have granted it.

* bucket (guide lines 10092-10115): ``s3:GetBucketAcl`` on the bucket and
  ``s3:PutObject`` on ``BUCKET/[PREFIX/]AWSLogs/ACCOUNT/*``, or for an organization
  trail ``BUCKET/[PREFIX/]AWSLogs/ORG-ID/*`` (line 10120's organization form);
* SNS topic (line 10350): ``SNS:Publish`` on the topic;
* KMS key (lines 10860-10880): ``kms:GenerateDataKey*`` with the trail's ARN as
  encryption context, and ``kms:DescribeKey``.

Each function takes the policy document as fetched and answers ``None`` (granted)
or the missing grant in words, for the error message and the logs. The request
context is what CloudTrail sends when it delivers: ``aws:SourceArn`` (the trail),
``aws:SourceAccount`` (the trail's account), the ACL it puts objects with, and the
encryption context it asks KMS for.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from recorder.aws.s3 import prefixed
from recorder.policies.evaluate import cloudtrail_may
from recorder.policies.requests import CONTEXT_KEY, OBJECT_ACL

Policy = str | bytes | Mapping[str, Any] | None


def _context(account_id: str, trail_arn: str) -> dict[str, str]:
    return {
        "aws:SourceArn": trail_arn,
        "aws:SourceAccount": account_id,
        "aws:SourceOwner": account_id,
    }


def log_object_arns(
    bucket: str, prefix: str | None, account_id: str, organization_id: str | None = None
) -> list[str]:
    """Representative object ARNs CloudTrail writes: a log file and a digest file."""
    owner = f"{organization_id}/{account_id}" if organization_id else account_id
    base = f"arn:aws:s3:::{bucket}/{prefixed(prefix, f'AWSLogs/{owner}')}"
    return [f"{base}/CloudTrail/x", f"{base}/CloudTrail-Digest/x"]


def bucket_grant_problem(
    policy: Policy,
    bucket: str,
    prefix: str | None,
    account_id: str,
    trail_arn: str,
    organization_id: str | None = None,
) -> str | None:
    context = _context(account_id, trail_arn)
    bucket_arn = f"arn:aws:s3:::{bucket}"
    if cloudtrail_may(policy, ["s3:GetBucketAcl"], bucket_arn, context) is not None:
        return f"s3:GetBucketAcl on {bucket_arn}"
    put_context = {**context, "s3:x-amz-acl": OBJECT_ACL}
    for arn in log_object_arns(bucket, prefix, account_id, organization_id):
        if cloudtrail_may(policy, ["s3:PutObject"], arn, put_context) is not None:
            return f"s3:PutObject on {arn.rsplit('/', 2)[0]}/*"
    return None


def topic_grant_problem(
    policy: Policy, topic_arn: str, account_id: str, trail_arn: str
) -> str | None:
    missing = cloudtrail_may(policy, ["SNS:Publish"], topic_arn, _context(account_id, trail_arn))
    return None if missing is None else f"{missing} on {topic_arn}"


def key_grant_problem(policy: Policy, key_arn: str, account_id: str, trail_arn: str) -> str | None:
    context = {
        **_context(account_id, trail_arn),
        f"kms:EncryptionContext:{CONTEXT_KEY}": trail_arn,
    }
    missing = cloudtrail_may(policy, ["kms:GenerateDataKey", "kms:DescribeKey"], key_arn, context)
    if missing == "kms:GenerateDataKey":
        missing = "kms:GenerateDataKey*"
    return None if missing is None else f"{missing} on {key_arn}"
