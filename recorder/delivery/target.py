"""What the writer needs to know of a trail to deliver its files."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DeliveryTarget:
    bucket: str
    prefix: str | None = None
    kms_key_id: str | None = None
    sns_topic_arn: str | None = None
    log_file_validation: bool = False


#: trail ARN -> where its files go; None while the trail is unknown.
TargetLookup = Callable[[str], DeliveryTarget | None]
