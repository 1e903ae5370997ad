"""What GetTrailStatus reports of one trail's deliveries (LatestDelivery*), per writer."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from recorder.aws.times import format_seconds


@dataclass
class TrailDeliveryStatus:
    """What GetTrailStatus reports of deliveries (LatestDelivery*)."""

    latest_delivery_time: str | None = None
    latest_delivery_error: str | None = None
    latest_notification_time: str | None = None
    latest_notification_error: str | None = None


class DeliveryStatus(dict[str, TrailDeliveryStatus]):
    """Trail ARN -> its status; the writer's outcomes in one place."""

    def of(self, trail_arn: str) -> TrailDeliveryStatus:
        return self.setdefault(trail_arn, TrailDeliveryStatus())

    def delivered(self, trail_arn: str) -> None:
        s = self.of(trail_arn)
        s.latest_delivery_time = now_str()
        s.latest_delivery_error = None

    def delivery_failed(self, trail_arn: str, code: str) -> None:
        self.of(trail_arn).latest_delivery_error = code

    def notified(self, trail_arn: str) -> None:
        s = self.of(trail_arn)
        s.latest_notification_time = now_str()
        s.latest_notification_error = None

    def notification_failed(self, trail_arn: str, code: str) -> None:
        self.of(trail_arn).latest_notification_error = code


def now_str() -> str:
    return format_seconds(dt.datetime.now(dt.UTC))
