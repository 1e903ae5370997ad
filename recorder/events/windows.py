"""Event-time intervals, and the watermark that says when one is complete. Pure.

A stage that counts calls per interval of *event time* (Insights; any aggregation by
time) must decide when an interval has all its calls. Closing intervals on the wall
clock gets this wrong whenever calls are delayed: a broker failover or a producer
replaying its journal holds calls back for a minute or more, the wall clock closes
their intervals empty, and the delayed calls then arrive too late to count. Here the
intervals close on a *watermark*: the event time up to which the stream is taken as
complete.

* An interval ``i`` of ``length`` seconds covers event times ``[i * length,
  (i + 1) * length)``; it closes once the watermark reaches its end. A call into a
  closed interval is *late* and is not counted.
* The watermark moves only forward, by whichever is further:

  - the stream's own event times: the newest event time read, less ``lateness``;
  - the clock, for a quiet stream: ``now - lateness``, but only while the stage is
    *live* (connected to the broker and at the end of its partition), so an interval
    with no calls in a quiet stream still closes.

* It does not move at all while the stage is cut off (the broker away: no fetch
  answered; or the stage itself held up, ticks ``max_gap`` apart) and for ``grace``
  seconds after it is back (or starts): what was held back meanwhile (producers'
  journals, a partition's backlog) arrives first and fills its intervals. An outage
  delays calls; it does not make them late.

Whether the stage is connected and at the end is the stage's to say (the Kafka side,
:func:`recorder.kafka.partitions.freshness`); this module only decides, on plain
numbers, so every stage that closes intervals by event time closes them alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def interval_of(event_time: float, length: float) -> int:
    """The interval an event time (epoch seconds) falls in."""
    return math.floor(event_time / length)


@dataclass(slots=True)
class Watermark:
    """The event time (epoch seconds) a stream is complete up to; see the module doc."""

    lateness: float
    grace: float
    value: float | None = None
    newest: float | None = None
    #: A tick this long after the previous one counts as a break: the stage itself
    #: was held up (a request to a broker that does not answer), and cannot say what
    #: it missed meanwhile.
    max_gap: float = 5.0
    #: Wall time since when the stage has been connected without a break (None: cut off).
    connected_since: float | None = None
    #: ... and also at the end of its partition.
    live_since: float | None = None
    last_tick: float | None = None

    def observe(self, event_time: float) -> None:
        """An event read (its event time, epoch seconds)."""
        if self.newest is None or event_time > self.newest:
            self.newest = event_time

    def tick(self, now: float, *, connected: bool, caught_up: bool) -> float | None:
        """Move the watermark as far as ``now`` allows and return it. ``connected``: the
        broker answered the stage's fetches just now; ``caught_up``: and the stage has
        read its partition to the end."""
        gap = self.last_tick is not None and now - self.last_tick > self.max_gap
        self.last_tick = now
        if not connected or gap:
            self.connected_since = self.live_since = None
            if not connected:
                return self.value
        if self.connected_since is None:
            self.connected_since = now
        if not caught_up:
            self.live_since = None
        elif self.live_since is None:
            self.live_since = now
        if now - self.connected_since < self.grace:
            return self.value  # just back, or just started: what was held back first
        candidates = []
        if self.newest is not None:
            candidates.append(self.newest - self.lateness)
        if self.live_since is not None and now - self.live_since >= self.grace:
            candidates.append(now - self.lateness)
        if candidates:
            best = max(candidates)
            if self.value is None or best > self.value:
                self.value = best
        return self.value

    def closed_through(self, length: float) -> int | None:
        """The last interval of ``length`` seconds that the watermark has closed."""
        if self.value is None:
            return None
        return interval_of(self.value, length) - 1

    def to_json(self) -> dict[str, float | None]:
        """What a restarted stage resumes from (the clocks start again: it waits its
        grace as after any break)."""
        return {"value": self.value, "newest": self.newest}

    @classmethod
    def from_json(
        cls, lateness: float, grace: float, doc: dict[str, object], max_gap: float = 5.0
    ) -> Watermark:
        def num(key: str) -> float | None:
            v = doc.get(key)
            return None if v is None else float(v)  # type: ignore[arg-type]

        return cls(lateness, grace, num("value"), num("newest"), max_gap)
