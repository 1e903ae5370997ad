"""Synthetic but realistic CloudTrail traffic and trail sets, shared by the harnesses.

The mix follows what a busy account sends: mostly read-only management calls,
writes, KMS calls (which trails may exclude), S3 object reads and writes (some on a
bucket another account owns), Lambda invokes, and a little IAM (a global service,
delivered once to us-east-1).
"""

from __future__ import annotations

import os
import random
import time
import uuid
from dataclasses import dataclass
from typing import Any

REGIONS = ("us-east-1", "us-west-2", "eu-west-1")
KINDS = [
    "describe",
    "run",
    "kms",
    "put-shared",
    "get-shared",
    "put-own",
    "get-own",
    "iam",
    "invoke",
]
WEIGHTS = [25, 8, 12, 10, 8, 10, 12, 5, 10]


def timed_event_id(now: float) -> str:
    """A version-7 UUID: its first 48 bits are ``now`` in milliseconds, the rest random.

    A reader of any log file knows when each record was emitted from its eventID
    alone, so latency is measured without a table shared between processes."""
    value = (int(now * 1000) & (2**48 - 1)) << 80 | int.from_bytes(os.urandom(10))
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return str(uuid.UUID(int=value))


def emitted_at(event_id: str) -> float:
    """The emit time (seconds) a :func:`timed_event_id` carries."""
    return int(event_id.replace("-", "")[:12], 16) / 1000


#: The length of :func:`object_key`'s keys: fixed, so a pre-encoded record's key can be
#: stamped over with another of the same length (``loadtest.generator``).
OBJECT_KEY_LENGTH = 13


def object_key(n: int) -> str:
    """The S3 object key of the mix's n-th record: ``k`` and 12 digits."""
    return f"k{n % 10**12:012d}"


def account_ids(n: int) -> list[str]:
    return [f"{111100000000 + i:012d}" for i in range(n)]


@dataclass
class TrafficMix:
    accounts: list[str]
    regions: tuple[str, ...] = REGIONS
    seed: int = 7

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._n = 0
        # the bucket everyone writes to belongs to the last account
        self.shared_owner = self.accounts[-1]

    def event(self, now: float | None = None) -> dict[str, Any]:
        rng = self._rng
        i = self._n
        self._n += 1
        account = rng.choice(self.accounts)
        region = rng.choice(self.regions)
        kind = rng.choices(KINDS, weights=WEIGHTS)[0]
        record: dict[str, Any] = {
            "eventVersion": "1.05",
            "userIdentity": {
                "type": "IAMUser",
                "principalId": "AIDAJ45Q7YFFAREXAMPLE",
                "arn": f"arn:aws:iam::{account}:user/load",
                "accountId": account,
                "accessKeyId": "AKIAIOSFODNN7EXAMPLE",
                "userName": "load",
            },
            "eventTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
            "awsRegion": region,
            "sourceIPAddress": "192.0.2.7",
            "userAgent": "aws-sdk-go/1.44.0 (go1.20; linux; amd64)",
            "requestParameters": {"n": i},
            "responseElements": None,
            "requestID": uuid.uuid4().hex.upper()[:16],
            "eventID": timed_event_id(time.time() if now is None else now),
            "eventType": "AwsApiCall",
            "recipientAccountId": account,
        }
        if kind == "describe":
            record.update(eventSource="ec2.amazonaws.com", eventName="DescribeInstances")
        elif kind == "run":
            record.update(eventSource="ec2.amazonaws.com", eventName="RunInstances")
        elif kind == "kms":
            record.update(
                eventSource="kms.amazonaws.com", eventName=rng.choice(["Decrypt", "CreateKey"])
            )
        elif kind == "iam":
            record.update(
                eventSource="iam.amazonaws.com", eventName="CreateUser", awsRegion="us-east-1"
            )
        elif kind == "invoke":
            fn = f"arn:aws:lambda:{region}:{account}:function:fn{i % 5}"
            record.update(
                eventSource="lambda.amazonaws.com",
                eventName="Invoke",
                resources=[{"accountId": account, "type": "AWS::Lambda::Function", "ARN": fn}],
            )
        else:
            shared = kind.endswith("shared")
            bucket, owner = (
                ("shared-bucket", self.shared_owner) if shared else (f"own-{account}", account)
            )
            key = object_key(i)
            record.update(
                eventSource="s3.amazonaws.com",
                eventName="PutObject" if kind.startswith("put") else "GetObject",
                requestParameters={"bucketName": bucket, "key": key},
                resources=[
                    {"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/{key}"},
                    {
                        "accountId": owner,
                        "type": "AWS::S3::Bucket",
                        "ARN": f"arn:aws:s3:::{bucket}",
                    },
                ],
            )
        return record


def trail_set(
    accounts: list[str], n: int, *, kms_key_arn: str | None = None, topic_arn: str | None = None
) -> list[dict[str, Any]]:
    """``n`` trails spread over the accounts, cycling through the selector shapes."""
    shapes: list[dict[str, Any]] = [
        {},  # all management events, no data events
        {
            "EventSelectors": [
                {
                    "ReadWriteType": "WriteOnly",
                    "IncludeManagementEvents": False,
                    "DataResources": [
                        {"Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::shared-bucket/"]}
                    ],
                }
            ]
        },
        {
            "EventSelectors": [
                {
                    "ReadWriteType": "All",
                    "IncludeManagementEvents": True,
                    "ExcludeManagementEventSources": ["kms.amazonaws.com"],
                    "DataResources": [],
                }
            ],
            "IncludeGlobalServiceEvents": False,
        },
        {
            "EventSelectors": [
                {
                    "ReadWriteType": "All",
                    "IncludeManagementEvents": True,
                    "DataResources": [
                        {"Type": "AWS::S3::Object", "Values": ["arn:aws:s3"]},
                        {"Type": "AWS::Lambda::Function", "Values": ["arn:aws:lambda"]},
                    ],
                }
            ]
        },
        {
            "EventSelectors": [
                {"ReadWriteType": "ReadOnly", "IncludeManagementEvents": True, "DataResources": []}
            ],
            "IsMultiRegionTrail": False,
            "IncludeGlobalServiceEvents": False,
        },
    ]
    trails = []
    for i in range(n):
        account = accounts[i % len(accounts)]
        name = f"load-{i}"
        trail: dict[str, Any] = {
            "Name": name,
            "TrailARN": f"arn:aws:cloudtrail:us-east-1:{account}:trail/{name}",
            "HomeRegion": "us-east-1",
            "S3BucketName": f"logs-{name}",
            "IsMultiRegionTrail": True,
            "IncludeGlobalServiceEvents": True,
        }
        trail.update(shapes[i % len(shapes)])
        if kms_key_arn and i % 4 == 1:
            trail["KmsKeyId"] = kms_key_arn
        if topic_arn and i % 3 == 0:
            trail["SnsTopicARN"] = topic_arn
        trails.append(trail)
    return trails
