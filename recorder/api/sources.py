"""Seams for what the control API reports but other services know.

GetTrailStatus's delivery and notification fields live in the writer, its digest
fields in the digester, and ListPublicKeys's keys in the integrity package. The
API takes them through these two small protocols so that it can be deployed
alone (the defaults report nothing) and wired to the real sources later without
touching the handlers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Protocol


class StatusSource(Protocol):
    """Delivery/digest status of one trail in one region, as GetTrailStatus members.

    Keys are GetTrailStatus output members (``LatestDeliveryTime``,
    ``LatestDeliveryError``, ``LatestNotificationTime``, ``LatestNotificationError``,
    ``LatestDigestDeliveryTime``, ``LatestDigestDeliveryError``, ...); timestamps may
    be datetimes, ISO-8601 strings or epoch seconds. Must not block.
    """

    def status(self, trail_arn: str, region: str) -> Mapping[str, Any]: ...


class PublicKeySource(Protocol):
    """Digest-signing public keys valid in ``[start, end]``, as ListPublicKeys items.

    Each item: ``Value`` (bytes: DER of the PKCS#1 RSAPublicKey), ``ValidityStartTime``,
    ``ValidityEndTime``, ``Fingerprint`` (hex). ``region``/``account_id`` say whose
    digests the caller validates.
    """

    def public_keys(
        self, region: str, account_id: str, start: dt.datetime, end: dt.datetime
    ) -> Sequence[Mapping[str, Any]]: ...


class NoStatus:
    """No delivery or digest status known (the API runs without the writer)."""

    def status(self, trail_arn: str, region: str) -> Mapping[str, Any]:
        return {}


class NoPublicKeys:
    """No signing keys known (the API runs without the digester)."""

    def public_keys(
        self, region: str, account_id: str, start: dt.datetime, end: dt.datetime
    ) -> Sequence[Mapping[str, Any]]:
        return []


class DeliveryStatusSource:
    """GetTrailStatus members from a writer's per-trail delivery status.

    ``statuses`` maps trail ARN to an object with ``latest_delivery_time``,
    ``latest_delivery_error``, ``latest_notification_time`` and
    ``latest_notification_error`` (``recorder.delivery.writer.Writer.status``); read
    by duck type so the API does not import the writer. In-process only: it sees the
    deliveries of the writer running in this process (``recorder run all``).
    """

    _MEMBERS = (
        ("LatestDeliveryTime", "latest_delivery_time"),
        ("LatestDeliveryError", "latest_delivery_error"),
        ("LatestNotificationTime", "latest_notification_time"),
        ("LatestNotificationError", "latest_notification_error"),
    )

    def __init__(self, statuses: Mapping[str, Any]) -> None:
        self._statuses = statuses

    def status(self, trail_arn: str, region: str) -> Mapping[str, Any]:
        found = self._statuses.get(trail_arn)
        if found is None:
            return {}
        out = {member: getattr(found, attr, None) for member, attr in self._MEMBERS}
        return {k: v for k, v in out.items() if v is not None}
