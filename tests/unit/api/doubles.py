"""Test doubles for the API's seams: resources that exist by name, rules that accept all."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from recorder.api.checks import KmsKey
from recorder.api.protocol import ApiError
from recorder.api.rules import API_MEMBERS, TrailRules


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

    async def bucket(self, name: str, prefix: str | None, account_id: str, region: str) -> None:
        self.calls.append(("bucket", name))
        if name not in self.buckets:
            raise ApiError("S3BucketDoesNotExistException", f"S3 bucket does not exist: {name}")

    async def topic(self, name_or_arn: str, account_id: str, region: str) -> str:
        self.calls.append(("topic", name_or_arn))
        name = name_or_arn.rsplit(":", 1)[-1]
        if name not in self.topics:
            raise ApiError("InvalidSnsTopicNameException", f"SNS topic does not exist: {name}")
        return f"arn:aws:sns:{region}:{account_id}:{name}"

    async def kms_key(self, key_id: str, account_id: str, region: str) -> KmsKey:
        self.calls.append(("kms", key_id))
        if key_id not in self.keys:
            raise ApiError("KmsKeyNotFoundException", f"KMS key not found: {key_id}")
        return KmsKey(self.keys[key_id])


class ModelRules(TrailRules):
    """The trail model's rules, but checking a document without the API-owned members.

    ``Trail.from_api`` does not yet tolerate ``Tags``/``CreationTime``/... (reported in
    issue 6); the handlers' own behaviour is what these tests are about.
    """

    def check_document(self, document: Mapping[str, Any]) -> None:
        super().check_document({k: v for k, v in document.items() if k not in API_MEMBERS})
