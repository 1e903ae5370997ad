"""What the owner of each destination must have granted recorder's delivery principal.

* bucket (guide lines 10092-10115): ``s3:GetBucketAcl`` on the bucket and
  ``s3:PutObject`` on ``BUCKET/[PREFIX/]AWSLogs/ACCOUNT/*``, or for an organization
  trail ``BUCKET/[PREFIX/]AWSLogs/ORG-ID/*`` (line 10120's organization form), with
  the ``bucket-owner-full-control`` ACL every put carries;
* SNS topic (line 10350): ``SNS:Publish`` on the topic;
* KMS key (lines 10860-10880): ``kms:GenerateDataKey*`` with the trail's ARN as
  encryption context, and ``kms:DescribeKey``.

Each function takes the policy document as fetched and answers ``None`` (granted)
or the missing grant in words, for the error message and the logs. The request
context is what the real service evaluates when recorder delivers (the values of
:mod:`recorder.policies.requests`): the ACL and the encryption context it sends, the
principal's own keys, and for a service principal the trail it acts for
(``aws:SourceArn``, ``aws:SourceAccount``). The resources are spelled in the trail's
partition (``arn:aws-cn:s3:::...`` for a trail in cn-north-1).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from recorder.aws.arn import arn_or_none, s3_arn
from recorder.aws.s3 import prefixed
from recorder.policies.evaluate import may
from recorder.policies.principal import CLOUDTRAIL, Principal
from recorder.policies.requests import CONTEXT_KEY, OBJECT_ACL

Policy = str | bytes | Mapping[str, Any] | None


def delivery_context(principal: Principal, account_id: str, trail_arn: str) -> dict[str, str]:
    """Condition keys of a delivery for ``trail_arn`` beyond the principal's own: AWS
    sets ``aws:SourceArn``/``aws:SourceAccount`` only when a service acts for a
    resource, never on a role's requests."""
    if not principal.is_service:
        return {}
    return {
        "aws:SourceArn": trail_arn,
        "aws:SourceAccount": account_id,
        "aws:SourceOwner": account_id,
    }


def partition_of_trail(trail_arn: str) -> str:
    arn = arn_or_none(trail_arn)
    return arn.partition if arn is not None else "aws"


def log_folder(
    bucket: str,
    prefix: str | None,
    account_id: str,
    organization_id: str | None = None,
    *,
    partition: str = "aws",
) -> str:
    """``arn:<partition>:s3:::BUCKET/[PREFIX/]AWSLogs/[ORG-ID/]ACCOUNT``: where a trail's
    log files and digests go (``/*`` below it is what the put grant names)."""
    owner = f"{organization_id}/{account_id}" if organization_id else account_id
    return s3_arn(bucket, prefixed(prefix, f"AWSLogs/{owner}"), partition=partition)


def log_object_arns(
    bucket: str,
    prefix: str | None,
    account_id: str,
    organization_id: str | None = None,
    *,
    partition: str = "aws",
) -> list[str]:
    """Representative object ARNs CloudTrail writes: a log file and a digest file."""
    base = log_folder(bucket, prefix, account_id, organization_id, partition=partition)
    return [f"{base}/CloudTrail/x", f"{base}/CloudTrail-Digest/x"]


def bucket_grant_problem(
    policy: Policy,
    bucket: str,
    prefix: str | None,
    account_id: str,
    trail_arn: str,
    organization_id: str | None = None,
    principal: Principal = CLOUDTRAIL,
) -> str | None:
    context = delivery_context(principal, account_id, trail_arn)
    partition = partition_of_trail(trail_arn)
    bucket_arn = s3_arn(bucket, partition=partition)
    if may(policy, principal, ["s3:GetBucketAcl"], bucket_arn, context) is not None:
        return f"s3:GetBucketAcl on {bucket_arn}"
    put_context = {**context, "s3:x-amz-acl": OBJECT_ACL}
    for arn in log_object_arns(bucket, prefix, account_id, organization_id, partition=partition):
        if may(policy, principal, ["s3:PutObject"], arn, put_context) is not None:
            return f"s3:PutObject on {arn.rsplit('/', 2)[0]}/*"
    return None


def topic_grant_problem(
    policy: Policy,
    topic_arn: str,
    account_id: str,
    trail_arn: str,
    principal: Principal = CLOUDTRAIL,
) -> str | None:
    context = delivery_context(principal, account_id, trail_arn)
    missing = may(policy, principal, ["SNS:Publish"], topic_arn, context)
    return None if missing is None else f"{missing} on {topic_arn}"


def key_grant_problem(
    policy: Policy,
    key_arn: str,
    account_id: str,
    trail_arn: str,
    principal: Principal = CLOUDTRAIL,
) -> str | None:
    context = {
        **delivery_context(principal, account_id, trail_arn),
        f"kms:EncryptionContext:{CONTEXT_KEY}": trail_arn,
    }
    if not principal.is_service:
        context["kms:CallerAccount"] = principal.account
    missing = may(policy, principal, ["kms:GenerateDataKey", "kms:DescribeKey"], key_arn, context)
    if missing == "kms:GenerateDataKey":
        missing = "kms:GenerateDataKey*"
    return None if missing is None else f"{missing} on {key_arn}"
