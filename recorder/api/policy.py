"""``recorder policy bucket|topic|key``: the policy a tenant applies for this deployment.

CreateTrail accepts a bucket, topic or key only when its policy grants recorder's
delivery principal what delivery needs (:mod:`recorder.api.checks`). This prints that
policy: the guide's statements (:mod:`recorder.policies.guide`) with the configured
principal, in the trail's partition, for the trail's account and prefix, and for an
organization trail its organization's folder too. The output is the JSON the AWS CLI
takes (``aws s3api put-bucket-policy --bucket B --policy file://bucket.json``).

The principal is ``--principal``, else ``RECORDER_DELIVERY_PRINCIPAL``; this command
never guesses it from the credentials of whoever runs it (an operator's own identity
is not the writer's).
"""

from __future__ import annotations

import argparse
import sys

from recorder.aws.arn import is_account_id, parse_trail_arn, s3_arn
from recorder.aws.s3 import prefixed
from recorder.policies import guide
from recorder.policies.principal import Principal
from recorder.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--principal",
        help="the principal recorder delivers as (the writer's role ARN); "
        "default: RECORDER_DELIVERY_PRINCIPAL",
    )
    sub = parser.add_subparsers(dest="resource", metavar="RESOURCE", required=True)
    bucket = sub.add_parser("bucket", help="the log bucket's policy")
    bucket.add_argument("--bucket", required=True)
    bucket.add_argument(
        "--trail-arn",
        required=True,
        action="append",
        help="a trail that delivers to the bucket (repeat for several accounts' trails)",
    )
    bucket.add_argument("--prefix", default=None, help="the trails' S3KeyPrefix")
    bucket.add_argument(
        "--organization-id", default=None, help="o-xxxxxxxxxx, for an organization trail"
    )
    topic = sub.add_parser("topic", help="the SNS topic's policy")
    topic.add_argument("--topic-arn", required=True)
    key = sub.add_parser("key", help="the KMS key's policy")
    key.add_argument("--key-owner", required=True, help="the account that owns the key")
    key.add_argument(
        "--trail-arn",
        required=True,
        action="append",
        help="a trail that encrypts with the key (repeat for several accounts' trails)",
    )
    for p in (bucket, topic, key):
        p.add_argument("--principal", default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    given = args.principal or Settings.from_env().delivery_principal
    if not given:
        print(
            "recorder policy: name the principal recorder delivers as: --principal "
            "<the writer's role ARN> (or set RECORDER_DELIVERY_PRINCIPAL)",
            file=sys.stderr,
        )
        return 2
    try:
        principal = Principal.parse(given)
        print(guide.pretty(document(args, principal)))
    except ValueError as exc:
        print(f"recorder policy: {exc}", file=sys.stderr)
        return 2
    return 0


def document(args: argparse.Namespace, principal: Principal) -> dict[str, object]:
    if args.resource == "topic":
        return guide.topic_document(args.topic_arn, principal=principal)
    trails = [parse_trail_arn(t) for t in args.trail_arn]
    partitions = {t.partition for t in trails}
    if len(partitions) > 1:
        raise ValueError(f"the trails are in several partitions ({', '.join(sorted(partitions))})")
    partition = trails[0].partition
    if principal.partition not in (None, partition):
        raise ValueError(
            f"the principal {principal} is in partition {principal.partition} and the trails in "
            f"{partition}: a partition's identities are unknown in another"
        )
    accounts = list(dict.fromkeys(t.account_id for t in trails))
    if args.resource == "key":
        if not is_account_id(args.key_owner):
            raise ValueError(f"--key-owner must be a 12-digit account id, got {args.key_owner!r}")
        return guide.key_document(
            args.key_owner, accounts, principal=principal, partition=partition
        )
    owners = [*accounts, *([args.organization_id] if args.organization_id else [])]
    objects = [
        s3_arn(args.bucket, prefixed(args.prefix, f"AWSLogs/{owner}/*"), partition=partition)
        for owner in owners
    ]
    return guide.bucket_document(
        args.bucket,
        objects[0] if len(objects) == 1 else objects,
        principal=principal,
        partition=partition,
    )
