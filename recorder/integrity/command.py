"""``recorder validate``: ``aws cloudtrail validate-logs``, where the AWS CLI is not installed.

Same options, same output lines, same exit status, with one addition: where digests
are missing in a row, the CLI reports only the one a link names (aws-cli issue
7054); this command also reports the others (``--no-gap-check`` turns it off, for
output identical to the CLI's). It asks the CloudTrail API
(``--endpoint-url``, e.g. recorder's control API) for the trail and its public keys
and reads digests and log files from S3 (``--s3-endpoint-url`` or the
``AWS_ENDPOINT_URL_S3`` variable botocore reads).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Iterable
from typing import Any

from recorder.aws.arn import arn_or_none
from recorder.integrity.signing import PublicKey
from recorder.integrity.validator import LogValidation, StoredObject, ValidationRequest


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--trail-arn", required=True)
    parser.add_argument("--start-time", required=True, type=_time)
    parser.add_argument("--end-time", type=_time)
    parser.add_argument("--s3-bucket")
    parser.add_argument("--s3-prefix")
    parser.add_argument("--account-id")
    parser.add_argument(
        "--organization-id", help="for an organization trail (no Organizations API here)"
    )
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--region", help="the digests' region (default: the trail's home region)")
    parser.add_argument("--endpoint-url", help="the CloudTrail API endpoint")
    parser.add_argument("--s3-endpoint-url", help="the S3 endpoint (default: AWS_ENDPOINT_URL_S3)")
    parser.add_argument(
        "--no-gap-check",
        action="store_true",
        help="do not report consecutive deleted digests the AWS CLI misses (aws-cli #7054)",
    )


def _time(value: str) -> dt.datetime:
    try:
        return dt.datetime.fromtimestamp(float(value), dt.UTC)
    except ValueError:
        pass
    try:
        t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"unrecognised time {value!r} (ISO 8601 or epoch seconds)"
        ) from None
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


class S3Store:
    """The validator's view of S3 through boto3 (``DigestStore`` and log fetcher)."""

    def __init__(self, s3: Any) -> None:
        self.s3 = s3

    def list_keys(self, bucket: str, prefix: str, marker: str) -> Iterable[str]:
        paginator = self.s3.get_paginator("list_objects")
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix, Marker=marker):
            for obj in page.get("Contents", []):
                yield obj["Key"]

    def get(self, bucket: str, key: str) -> StoredObject | None:
        try:
            obj = self.s3.get_object(Bucket=bucket, Key=key)
        except self.s3.exceptions.NoSuchKey:
            return None
        return StoredObject(obj["Body"].read(), obj.get("Metadata", {}))

    def fetch(self, bucket: str, key: str) -> bytes | None:
        found = self.get(bucket, key)
        return None if found is None else found.body


def run(args: argparse.Namespace) -> int:
    import boto3

    arn = arn_or_none(args.trail_arn)
    region = args.region or (arn.region if arn is not None else None) or "us-east-1"
    cloudtrail = boto3.client("cloudtrail", region_name=region, endpoint_url=args.endpoint_url)
    s3 = boto3.client("s3", region_name=region, endpoint_url=args.s3_endpoint_url)
    bucket, prefix = args.s3_bucket, args.s3_prefix
    if bucket is None:
        trails = cloudtrail.describe_trails(trailNameList=[args.trail_arn])["trailList"]
        if not trails:
            print(f"Trail not found: {args.trail_arn}", file=sys.stderr)
            return 255
        bucket, prefix = trails[0]["S3BucketName"], trails[0].get("S3KeyPrefix")

    def public_keys(start: dt.datetime, end: dt.datetime) -> list[PublicKey]:
        out: list[PublicKey] = []
        for page in cloudtrail.get_paginator("list_public_keys").paginate(
            StartTime=start, EndTime=end
        ):
            out += [PublicKey.from_api(k) for k in page.get("PublicKeyList", [])]
        return out

    try:
        request = ValidationRequest(
            trail_arn=args.trail_arn,
            start_time=args.start_time,
            end_time=args.end_time or dt.datetime.now(dt.UTC),
            bucket=bucket,
            prefix=prefix,
            account_id=args.account_id,
            organization_id=args.organization_id,
            source_region=region,
            verbose=args.verbose,
        )
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 255
    store = S3Store(s3)
    validation = LogValidation(
        request, store, public_keys, store.fetch, find_gaps=not args.no_gap_check
    )
    for chunk in validation.run():
        stream = sys.stdout if chunk.stream == "stdout" else sys.stderr
        stream.write(chunk.text)
        stream.flush()
    return int(validation.exit_code)
