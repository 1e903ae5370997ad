"""Watermarks: how far the pipeline has carried what producers sent, partition by partition.

The digester ends a chain (the final digest after StopLogging) once every log file
that can hold an event from before the stop has been delivered. That is judged from
progress marks that travel through the pipeline in the partitions themselves, so
that a mark is always read *after* everything it vouches for:

* A router, having routed its ``api-events`` partitions up to a high watermark the
  broker reported at time *t*, writes a :class:`RouterMark` into every partition of
  ``routed`` after the routed records: every event appended to those ``api-events``
  partitions before *t* has been routed, and its routed records precede the mark.
* A writer combines the router marks of each ``routed`` partition it owns (the least
  time over all ``api-events`` partitions) and, once every routed record before a
  mark is in a delivered (or parked) log file, publishes the mark's time as a
  :class:`CutMark` into every partition of ``delivered``, after those files'
  manifests: every event produced before *t* that went to that ``routed`` partition
  is in a log file whose manifest precedes the mark.
* The digester reads the cut marks of the ``routed`` partitions its chain's
  destinations hash to, and writes the final digest once they pass the stop.
* The aggregation stage reads the router marks of each ``routed`` partition too: a
  window of event time is complete once they pass its end (and the lateness that
  covers a producer's own delay before ``api-events``).

Marks carry wall-clock times in epoch milliseconds. They cost a record per partition
per :attr:`~recorder.settings.Settings.watermark_interval`, never one per event.
This module is pure: the encodings and the bookkeeping the three stages share.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import orjson

#: The header that marks a watermark record on ``routed`` and on ``delivered``.
WATERMARK_HEADER = "recorder-watermark"


def is_watermark(headers: Iterable[tuple[str, bytes]] | None) -> bool:
    return any(k == WATERMARK_HEADER for k, _ in headers or ())


@dataclass(frozen=True, slots=True)
class Mark:
    """``times``: partition -> epoch ms, of ``count`` partitions upstream in all.

    On ``routed`` (a router's mark) the partitions are ``api-events`` partitions; on
    ``delivered`` (a writer's cut mark) they are ``routed`` partitions.
    """

    times: Mapping[int, int]
    count: int

    def to_bytes(self) -> bytes:
        return orjson.dumps({"n": self.count, "t": {str(p): t for p, t in self.times.items()}})

    @classmethod
    def from_bytes(cls, value: bytes) -> Mark:
        doc = orjson.loads(value)
        try:
            count = int(doc["n"])
            times = {int(p): int(t) for p, t in doc["t"].items()}
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"not a watermark: {exc}") from None
        if count < 1 or any(not 0 <= p < count for p in times):
            raise ValueError(f"watermark partitions outside 0..{count - 1}")
        return cls(times, count)


RouterMark = Mark
CutMark = Mark


@dataclass
class SourceProgress:
    """A router's view of one ``api-events`` partition it owns.

    Each poll leaves the high watermark the broker reported and when (the fetch's
    time); once the router has routed everything below such a high watermark, all
    that was appended before that time is routed.
    """

    samples: deque[tuple[int, int]] = field(default_factory=deque)  # (high watermark, ms)
    routed_until: int | None = None  # ms

    def sample(self, highwater: int | None, at_ms: int | None) -> None:
        if highwater is None or at_ms is None:
            return
        if self.samples and self.samples[-1][1] >= at_ms:
            return  # no fetch since the last sample
        self.samples.append((highwater, at_ms))

    def routed(self, position: int) -> int | None:
        """Everything below ``position`` is routed: the watermark it proves."""
        while self.samples and self.samples[0][0] <= position:
            _, at = self.samples.popleft()
            self.routed_until = at if self.routed_until is None else max(self.routed_until, at)
        return self.routed_until


@dataclass
class RoutedUntil:
    """The router marks read so far in one ``routed`` partition, combined: every event
    appended to ``api-events`` before :meth:`until` precedes the last mark read. Each
    router marks only the ``api-events`` partitions it owns; the least time over all of
    them counts, and nothing until every one has a mark."""

    sources: dict[int, int] = field(default_factory=dict)  # api-events partition -> ms
    source_count: int = 0

    def on_mark(self, mark: Mark) -> None:
        self.source_count = mark.count
        for p, t in mark.times.items():
            if t > self.sources.get(p, -1):
                self.sources[p] = t

    def until(self) -> int | None:
        """Epoch ms, or None while some ``api-events`` partition has no mark yet."""
        if self.source_count < 1 or any(p not in self.sources for p in range(self.source_count)):
            return None
        return min(self.sources[p] for p in range(self.source_count))

    def to_json(self) -> dict[str, object]:
        return {"n": self.source_count, "t": {str(p): t for p, t in self.sources.items()}}

    @classmethod
    def from_json(cls, doc: Mapping[str, object] | None) -> RoutedUntil:
        if not doc:
            return cls()
        times = doc.get("t")
        sources = {int(p): int(t) for p, t in times.items()} if isinstance(times, dict) else {}
        return cls(sources, int(str(doc.get("n") or 0)))


@dataclass
class RoutedProgress:
    """A writer's view of one ``routed`` partition: the router marks read in it, and
    which of them every routed record before has been delivered for."""

    routed: RoutedUntil = field(default_factory=RoutedUntil)
    pending: deque[tuple[int, int]] = field(default_factory=deque)  # (offset, ms)
    cut_until: int | None = None

    def on_mark(self, offset: int, mark: Mark) -> None:
        self.routed.on_mark(mark)
        least = self.routed.until()
        if least is None:
            return  # some api-events partition has no router mark yet
        if not self.pending or least > self.pending[-1][1]:
            self.pending.append((offset, least))

    def cut(self, committable: int) -> int | None:
        """Every record before ``committable`` is delivered: the watermark that proves."""
        while self.pending and self.pending[0][0] < committable:
            _, t = self.pending.popleft()
            self.cut_until = t if self.cut_until is None else max(self.cut_until, t)
        return self.cut_until


@dataclass
class CutMarks:
    """The digester's view, per ``delivered`` partition: the latest cut mark of each
    ``routed`` partition read there."""

    times: dict[int, int] = field(default_factory=dict)  # routed partition -> ms
    routed_count: int = 0

    def on_mark(self, mark: Mark) -> None:
        self.routed_count = mark.count
        for p, t in mark.times.items():
            if t > self.times.get(p, -1):
                self.times[p] = t

    def passed(self, partitions: Iterable[int], at_ms: int) -> bool:
        """Whether every one of these ``routed`` partitions is cut past ``at_ms``."""
        return all(self.times.get(p, -1) >= at_ms for p in partitions)
