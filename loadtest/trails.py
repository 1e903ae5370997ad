"""A harness's trails on the stack: buckets made, trails file written, expectations known.

Every harness (load test, crash test, graceful-stop and rebalance tests) needs the same
four things from one trail set: the buckets, the trails file the recorder reads, the
pure routing engine that says what must be delivered, and the bucket -> trail map to
read S3 back with.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recorder.policies import guide
from recorder.routing import RoutingEngine
from recorder.trails import Trail

#: The account moto's own resources (keys) belong to.
MOTO_ACCOUNT = "123456789012"
Delivery = tuple[str, str, str, str]  # (eventID, trail ARN, account, region)


def delivery_key(event_id: str, trail_arn: str, account: str, region: str) -> int:
    """A delivery as a 64-bit number: a long load test keeps millions of them in memory
    (a collision among a million keys has odds of about 1 in 10^7)."""
    text = f"{event_id}|{trail_arn}|{account}|{region}".encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest())


@dataclass(frozen=True)
class InstalledTrails:
    specs: list[dict[str, Any]]
    trails_file: Path
    engine: RoutingEngine
    buckets: dict[str, str]  # bucket -> trail ARN

    def expected(self, event: dict[str, Any]) -> set[Delivery]:
        """What the routing engine says this event must become: one per destination."""
        return {
            (event["eventID"], d.trail_arn, d.account_id, d.region)
            for d in self.engine.route(event)
        }

    def expected_all(self, events: Iterable[dict[str, Any]]) -> set[Delivery]:
        out: set[Delivery] = set()
        for e in events:
            out |= self.expected(e)
        return out


def log_bucket(s3: Any, bucket: str) -> None:
    """A log bucket with the guide's policy: the writer delivers only where CloudTrail
    is granted (a bucket without it gets its deliveries parked)."""
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_policy(Bucket=bucket, Policy=guide.bucket_policy(bucket))


def notice_topic(sns: Any, name: str) -> str:
    """A topic CloudTrail may publish to (the guide's topic policy); its ARN."""
    arn = str(sns.create_topic(Name=name)["TopicArn"])
    sns.set_topic_attributes(
        TopicArn=arn, AttributeName="Policy", AttributeValue=guide.topic_policy(arn)
    )
    return arn


def trail_key(kms: Any, accounts: list[str], description: str) -> str:
    """A KMS key CloudTrail may encrypt with for the trails of ``accounts``; its ARN."""
    policy = guide.key_policy(MOTO_ACCOUNT, accounts)
    return str(kms.create_key(Description=description, Policy=policy)["KeyMetadata"]["Arn"])


def install_trails(s3: Any, specs: list[dict[str, Any]], work: Path) -> InstalledTrails:
    for t in specs:
        log_bucket(s3, t["S3BucketName"])
    trails_file = work / "trails.json"
    trails_file.write_text(json.dumps(specs))
    return InstalledTrails(
        specs,
        trails_file,
        RoutingEngine.compile([Trail.from_api(t) for t in specs], {}),
        {t["S3BucketName"]: t["TrailARN"] for t in specs},
    )
