"""Aggregated events: data events summarised per trail destination, window and template.

Pure: plain data in, plain data out. AWS ("Aggregating data events", "CloudTrail record
contents for aggregated events"): a trail that logs data events and has aggregation on
receives, for every window (``windowSize`` ``PT5M``), one ``AwsAggregatedEvent`` per
template and value of the template's primary dimension:

* ``API_ACTIVITY``: by ``eventName``, with the ``resourceARN`` counts as details;
* ``RESOURCE_ACCESS``: by ``resourceARN``, with the ``eventName`` counts;
* ``USER_ACTIONS``: by ``userIdentity`` (the caller's ARN), with the ``eventName`` counts.

Each summarises one ``eventSource`` in one region of one account folder, as AWS's
examples show (``aggregationType`` ``Count``). The resource of an S3 event is its
bucket (AWS's example names ``arn:aws:s3:::bucket-1``); of another service, its first
resource. Counts are exact: an event is counted once per (destination, eventID), even
when ``routed`` carries it twice; a window closes by event time, ``lateness`` after its
end, and an event of a closed window is late (counted by the stage, never in a summary).

Event IDs derive from the destination, window, template, source and primary value, so
a summary decided twice (a replay after a crash) has one ID and the writer keeps one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from recorder.trails.destination import AGGREGATED, Destination

API_ACTIVITY = "API_ACTIVITY"
RESOURCE_ACCESS = "RESOURCE_ACCESS"
USER_ACTIONS = "USER_ACTIONS"
#: The primary dimension of each template and the dimension its details count.
DIMENSIONS: Mapping[str, tuple[str, str]] = {
    API_ACTIVITY: ("eventName", "resourceARN"),
    RESOURCE_ACCESS: ("resourceARN", "eventName"),
    USER_ACTIONS: ("userIdentity", "eventName"),
}
#: At most this many values of a details dimension, the largest counts first.
TOP_DETAILS = 50
EVENT_VERSION = "1.0"  # AWS's aggregated events: "eventVersion": "1.0"
_NAMESPACE = uuid.UUID("0b6f2c1e-2a57-4f0e-9d3b-7c1e5a9f4d21")


@dataclass(frozen=True, slots=True)
class Call:
    """What a summary needs of one data event."""

    event_source: str
    event_name: str
    resource: str  # "" when the event names none
    user: str  # the caller's ARN ("" when none)

    @classmethod
    def of(cls, record: Mapping[str, Any]) -> Call:
        identity = record.get("userIdentity")
        user = ""
        if isinstance(identity, Mapping):
            user = str(identity.get("arn") or identity.get("principalId") or "")
        return cls(
            str(record.get("eventSource") or ""),
            str(record.get("eventName") or ""),
            _resource(record.get("resources")),
            user,
        )


def _resource(resources: object) -> str:
    if not isinstance(resources, list):
        return ""
    arns = [r for r in resources if isinstance(r, Mapping) and r.get("ARN")]
    for r in arns:
        if r.get("type") == "AWS::S3::Bucket":
            return str(r["ARN"])
    return str(arns[0]["ARN"]) if arns else ""


def is_data_event(record: Mapping[str, Any]) -> bool:
    return record.get("eventCategory") == "Data" and record.get("eventType") in (
        "AwsApiCall",
        None,
    )


def _hash(event_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(event_id.encode(), digest_size=8).digest(), "big")


@dataclass
class Window:
    """One destination's calls in one window: each distinct call with its count."""

    calls: Counter[Call] = field(default_factory=Counter)
    seen: set[int] = field(default_factory=set)  # hashes of the eventIDs counted


@dataclass
class Aggregator:
    """The open windows of one partition of ``routed``."""

    window_seconds: int
    windows: dict[tuple[bytes, int], Window] = field(default_factory=dict)
    closed_through: int | None = None  # every window starting at or before: closed

    def window_of(self, epoch: float) -> int:
        return int(epoch // self.window_seconds) * self.window_seconds

    def observe(self, dest_key: bytes, epoch: float, event_id: str, call: Call) -> str:
        """Count one data event: ``counted``, ``duplicate`` or ``late``."""
        start = self.window_of(epoch)
        if self.closed_through is not None and start <= self.closed_through:
            return "late"
        window = self.windows.setdefault((dest_key, start), Window())
        h = _hash(event_id)
        if h in window.seen:
            return "duplicate"
        window.seen.add(h)
        window.calls[call] += 1
        return "counted"

    def close_through(
        self, watermark: float, templates_of: Any
    ) -> list[tuple[Destination, dict[str, Any]]]:
        """Close every window that ended at or before ``watermark`` (epoch seconds);
        the summaries of each, for ``templates_of(destination)`` (the trail's
        templates now; none: the window closes with no summary)."""
        through = self.window_of(watermark) - self.window_seconds
        if self.closed_through is not None and through <= self.closed_through:
            return []
        out: list[tuple[Destination, dict[str, Any]]] = []
        for key in sorted(k for k in self.windows if k[1] <= through):
            window = self.windows.pop(key)
            dest = Destination.from_key(key[0])
            target = Destination(
                dest.trail_arn, dest.account_id, dest.region, dest.org_id, AGGREGATED
            )
            for template in templates_of(dest):
                for record in summaries(dest, key[1], self.window_seconds, template, window.calls):
                    out.append((target, record))
        self.closed_through = through
        return out

    # -- state ---------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        return {
            "closedThrough": self.closed_through,
            "windows": [
                {
                    "dest": key.decode(),
                    "start": start,
                    "calls": [[*astuple(c), n] for c, n in w.calls.items()],
                    "seen": sorted(w.seen),
                }
                for (key, start), w in self.windows.items()
            ],
        }

    @classmethod
    def restore(cls, window_seconds: int, doc: Mapping[str, Any]) -> Aggregator:
        agg = cls(window_seconds, closed_through=doc.get("closedThrough"))
        for w in doc.get("windows", []):
            window = Window(Counter({Call(*c[:4]): int(c[4]) for c in w["calls"]}), set(w["seen"]))
            agg.windows[(w["dest"].encode(), int(w["start"]))] = window
        return agg


def astuple(call: Call) -> tuple[str, str, str, str]:
    return (call.event_source, call.event_name, call.resource, call.user)


def _time(epoch: int) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def window_size(seconds: int) -> str:
    """ISO-8601 duration: ``PT5M`` for AWS's five minutes."""
    minutes, rest = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    out = "PT" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    return out + (f"{rest}S" if rest or out == "PT" else "")


def _value(call: Call, dimension: str) -> str:
    if dimension == "eventName":
        return call.event_name
    if dimension == "resourceARN":
        return call.resource
    return call.user


def _statistics(counts: Counter[str], limit: int | None = None) -> list[dict[str, Any]]:
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [{"name": name, "value": n} for name, n in ordered[:limit]]


def summaries(
    dest: Destination, start: int, seconds: int, template: str, calls: Mapping[Call, int]
) -> Iterable[dict[str, Any]]:
    """The aggregated events of one window of one destination for one template, in
    AWS's record form, ordered by event source and primary value."""
    primary, detail = DIMENSIONS[template]
    groups: dict[tuple[str, str], Counter[str]] = {}
    for call, n in calls.items():
        value = _value(call, primary)
        if not value:
            continue  # an event with no resource has no place in RESOURCE_ACCESS
        groups.setdefault((call.event_source, value), Counter())[_value(call, detail)] += n
    for (source, value), details in sorted(groups.items()):
        details.pop("", None)
        summary: dict[str, Any] = {
            "primaryDimension": {
                "dimension": primary,
                "statistics": [
                    {"name": value, "value": sum(_total(calls, source, primary, value))}
                ],
                "aggregationType": "Count",
            },
            "details": [
                {
                    "dimension": detail,
                    "statistics": _statistics(details, TOP_DETAILS),
                    "aggregationType": "Count",
                }
            ]
            if details
            else [],
        }
        yield {
            "eventVersion": EVENT_VERSION,
            "accountId": dest.account_id,
            "eventId": str(
                uuid.uuid5(_NAMESPACE, f"{dest.key().decode()}|{start}|{template}|{source}|{value}")
            ),
            "eventCategory": "Aggregated",
            "eventType": "AwsAggregatedEvent",
            "awsRegion": dest.region,
            "eventSource": source,
            "timeWindow": {
                "windowStart": _time(start),
                "windowEnd": _time(start + seconds),
                "windowSize": window_size(seconds),
            },
            "summary": summary,
        }


def _total(calls: Mapping[Call, int], source: str, dimension: str, value: str) -> Iterable[int]:
    for call, n in calls.items():
        if call.event_source == source and _value(call, dimension) == value:
            yield n
