"""One join of a trail's S3KeyPrefix: log file keys, digest keys (as validate-logs
lists them) and the object ARNs CreateTrail checks the bucket policy for all start
with the same ``<prefix>/AWSLogs/<account>/``, for every prefix the API accepts."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from awscli.customizations.cloudtrail.validation import DigestProvider

from recorder.aws.s3 import prefixed
from recorder.delivery.naming import log_file_key
from recorder.integrity import digest_folder, digest_key
from recorder.policies import bucket_grant_problem, log_object_arns
from recorder.trails.destination import Destination
from recorder.trails.naming import validate_s3_key_prefix

ACCOUNT = "111122223333"
TRAIL = f"arn:aws:cloudtrail:us-east-2:{ACCOUNT}:trail/your-trail-name"
BUCKET = "logs"
T = dt.datetime(2015, 8, 17, 15, 1, 31, tzinfo=dt.UTC)


def test_prefixed() -> None:
    assert prefixed(None, "AWSLogs/1/") == "AWSLogs/1/"
    assert prefixed("", "AWSLogs/1/") == "AWSLogs/1/"
    assert prefixed("a/b", "AWSLogs/1/") == "a/b/AWSLogs/1/"
    assert prefixed("a/b/", "AWSLogs/1/") == "a/b//AWSLogs/1/"  # as validate-logs joins it


def _bucket_policy(folder: str) -> str:
    """The guide's bucket policy (lines 10092-10115) for objects under ``folder``."""
    principal = {"Service": "cloudtrail.amazonaws.com"}
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": principal,
                    "Action": "s3:GetBucketAcl",
                    "Resource": f"arn:aws:s3:::{BUCKET}",
                },
                {
                    "Effect": "Allow",
                    "Principal": principal,
                    "Action": "s3:PutObject",
                    "Resource": f"arn:aws:s3:::{BUCKET}/{folder}*",
                    "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}},
                },
            ],
        }
    )


@pytest.mark.parametrize(
    ("prefix", "folder"),
    [
        (None, f"AWSLogs/{ACCOUNT}/"),
        ("", f"AWSLogs/{ACCOUNT}/"),
        ("logs", f"logs/AWSLogs/{ACCOUNT}/"),
        ("a/b", f"a/b/AWSLogs/{ACCOUNT}/"),
        ("a/b/", f"a/b//AWSLogs/{ACCOUNT}/"),
        ("team-1/prod_2", f"team-1/prod_2/AWSLogs/{ACCOUNT}/"),
        ("x%20y", f"x%20y/AWSLogs/{ACCOUNT}/"),
    ],
)
def test_log_files_digests_and_policy_agree(prefix: str | None, folder: str) -> None:
    if prefix:
        validate_s3_key_prefix(prefix)  # one the API accepts
    dest = Destination(TRAIL, ACCOUNT, "us-east-2")
    log_key = log_file_key(dest, prefix, T, "seed")
    assert log_key.startswith(f"{folder}CloudTrail/us-east-2/2015/08/17/{ACCOUNT}_CloudTrail_")

    chain = Destination(TRAIL, ACCOUNT, "us-east-2")
    digest = digest_key(chain, prefix, T)
    assert digest == (
        f"{folder}CloudTrail-Digest/us-east-2/2015/08/17/"
        f"{ACCOUNT}_CloudTrail-Digest_us-east-2_your-trail-name_us-east-2_20150817T150131Z.json.gz"
    )
    cli = DigestProvider(
        s3_client_provider=None,
        account_id=ACCOUNT,
        trail_name="your-trail-name",
        trail_home_region="us-east-2",
        trail_source_region="us-east-2",
    )
    assert cli._create_digest_prefix(T, prefix) == digest_folder(chain, prefix)
    assert digest.startswith(digest_folder(chain, prefix) + "/")

    assert log_object_arns(BUCKET, prefix, ACCOUNT) == [
        f"arn:aws:s3:::{BUCKET}/{folder}CloudTrail/x",
        f"arn:aws:s3:::{BUCKET}/{folder}CloudTrail-Digest/x",
    ]
    # the policy CreateTrail accepts is the one that grants the keys actually written
    assert bucket_grant_problem(_bucket_policy(folder), BUCKET, prefix, ACCOUNT, TRAIL) is None
