"""Which trails are parked now, how long, and why: the per-trail view an alert needs.

The aggregate gauges (parked destinations, oldest parked age) tell an operator that
some tenant's delivery is broken; paging the right tenant needs the trail ARN and the
error. A trail with several destinations (a multi-Region or organization trail)
counts once per kind, by its oldest parked entry, with that lane's last error.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from recorder.delivery.parking import ParkedIndex


@dataclass(frozen=True, slots=True)
class ParkedTrail:
    trail_arn: str
    kind: str  # parking.FILE or parking.NOTICE
    error: str
    since: float  # parked_at of the oldest entry (epoch seconds)


def parked_trails(indexes: Iterable[ParkedIndex]) -> list[ParkedTrail]:
    """One entry per (trail, kind) with anything parked: the oldest lane's."""
    oldest: dict[tuple[str, str], ParkedTrail] = {}
    for index in indexes:
        for lane in index.lanes.values():
            if not lane.entries:
                continue
            since = lane.entries[0].parked_at  # parked in offset order: the oldest
            key = (lane.destination.trail_arn, lane.kind)
            known = oldest.get(key)
            if known is None or since < known.since:
                oldest[key] = ParkedTrail(key[0], key[1], lane.last_error or "Parked", since)
    return sorted(oldest.values(), key=lambda t: (t.since, t.trail_arn, t.kind))


def ages(trails: Iterable[ParkedTrail], now: float) -> dict[tuple[str, str, str], float]:
    """Gauge values by (trail_arn, kind, error): seconds parked."""
    return {(t.trail_arn, t.kind, t.error): max(0.0, now - t.since) for t in trails}
