"""GetTrailStatus's delivery and digest fields from the writer and digester of this process."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_MEMBERS = (
    ("LatestDeliveryTime", "latest_delivery_time"),
    ("LatestDeliveryError", "latest_delivery_error"),
    ("LatestNotificationTime", "latest_notification_time"),
    ("LatestNotificationError", "latest_notification_error"),
    ("LatestDigestDeliveryTime", "latest_digest_delivery_time"),
    ("LatestDigestDeliveryError", "latest_digest_delivery_error"),
)


class CombinedStatus:
    """Reads the per-trail status objects of ``recorder run all`` (in-process only)."""

    def __init__(self, *statuses: Mapping[str, Any]) -> None:
        self._statuses = statuses

    def status(self, trail_arn: str, region: str) -> Mapping[str, Any]:
        out: dict[str, Any] = {}
        for statuses in self._statuses:
            found = statuses.get(trail_arn)
            if found is None:
                continue
            for member, attr in _MEMBERS:
                value = getattr(found, attr, None)
                if value is not None:
                    out[member] = value
        return out
