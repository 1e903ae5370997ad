"""Test doubles for the API's seams: S3/SNS/KMS resources that exist by name."""

from __future__ import annotations

from dataclasses import dataclass, field

from recorder.api.checks import KmsKey
from recorder.api.protocol import ApiError
from recorder.trails.errors import answer


@dataclass
class FakeChecks:
    """Buckets, topics and keys that exist if listed here (moto stands in elsewhere)."""

    buckets: set[str] = field(default_factory=lambda: {"my-bucket", "other-bucket"})
    topics: set[str] = field(default_factory=lambda: {"my-topic"})
    keys: dict[str, str] = field(
        default_factory=lambda: {
            "alias/MyKmsKey": "arn:aws:kms:us-east-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        }
    )
    calls: list[tuple[str, str]] = field(default_factory=list)

    async def bucket(
        self, name: str, prefix: str | None, account_id: str, region: str, **_: object
    ) -> None:
        self.calls.append(("bucket", name))
        if name not in self.buckets:
            raise ApiError(*answer("bucket_missing", bucket=name))

    async def topic(self, name_or_arn: str, account_id: str, region: str, **_: object) -> str:
        self.calls.append(("topic", name_or_arn))
        name = name_or_arn.rsplit(":", 1)[-1]
        if name not in self.topics:
            raise ApiError(*answer("topic_policy"))
        return f"arn:aws:sns:{region}:{account_id}:{name}"

    async def kms_key(self, key_id: str, account_id: str, region: str, **_: object) -> KmsKey:
        self.calls.append(("kms", key_id))
        if key_id not in self.keys:
            raise ApiError("KmsKeyNotFoundException", f"KMS key not found: {key_id}")
        return KmsKey(self.keys[key_id])
