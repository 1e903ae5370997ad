"""The cut state of one partition of ``routed``. Pure and synchronous.

A file is never cut by the wall clock alone. When a destination's batch is due (its
interval elapsed or a size bound was reached) the writer *requests* a cut by
producing a :class:`CutMarker` into the same partition; the batch is cut only when
that marker is read back, and it holds exactly that destination's records with
offsets in ``[first_offset, last_offset]``. A replay after any crash reads the same
records and the same markers, so it cuts the same files with the same keys
(DESIGN.md, "Deterministic replay").

Commit rule: the committable offset is the smallest offset still needed, i.e. the
first record of any batch not yet cut or not yet in S3. Everything before it is in
a delivered file. Hence, on a replay from ``start``, a marker whose ``first_offset``
is before ``start`` names a batch that was delivered already: its records are dropped.

Only one marker per destination is outstanding at a time, and none is requested
before the consumer has read past the log end it saw on assignment (``caught_up_at``),
so a marker never names records that an earlier, unread marker already took.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import orjson

from recorder.trails.destination import Destination

MARKER_HEADER = "recorder-cut"


class Routed(NamedTuple):
    """One routed record: the event's rendered JSON plus what the manifest needs."""

    value: bytes
    event_time: str = ""
    event_id: str = ""


@dataclass(frozen=True, slots=True)
class CutMarker:
    destination: Destination
    first_offset: int
    last_offset: int
    cut_time: str  # "YYYY-MM-DDTHH:MM:SSZ": the file's delivery time, fixed once
    reason: str = "interval"

    def to_bytes(self) -> bytes:
        return orjson.dumps(
            {
                "first": self.first_offset,
                "last": self.last_offset,
                "cutTime": self.cut_time,
                "reason": self.reason,
            }
        )

    @classmethod
    def from_record(cls, key: bytes, value: bytes) -> CutMarker:
        body = orjson.loads(value)
        return cls(
            Destination.from_key(key),
            int(body["first"]),
            int(body["last"]),
            str(body["cutTime"]),
            str(body.get("reason", "interval")),
        )


@dataclass(slots=True)
class Batch:
    """A cut: the records of one log file, in offset order."""

    destination: Destination
    partition: int
    records: list[tuple[int, Routed]]
    cut_time: str
    reason: str = "interval"

    @property
    def first_offset(self) -> int:
        return self.records[0][0]

    @property
    def last_offset(self) -> int:
        return self.records[-1][0]

    @property
    def size(self) -> int:
        return sum(len(r.value) for _, r in self.records)

    @property
    def seed(self) -> str:
        """Seed of the object key's unique string: same batch, same key.

        The first record's eventID is in it so that a broker that loses acknowledged
        records and hands their offsets out again (an unclean leader election) cannot
        make a new batch collide with, and overwrite, a file already delivered.
        """
        dest = self.destination.key().decode()
        first_id = self.records[0][1].event_id
        return f"{dest}|{self.partition}|{self.first_offset}|{self.cut_time}|{first_id}"


@dataclass(slots=True)
class _Open:
    records: list[tuple[int, Routed]] = field(default_factory=list)
    size: int = 0
    opened_at: float = 0.0
    requested: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True)
class CutRequest:
    destination: Destination
    first_offset: int
    last_offset: int
    reason: str


class PartitionBatcher:
    def __init__(
        self,
        partition: int,
        start_offset: int,
        *,
        caught_up_at: int,
        max_records: int,
        max_bytes: int,
    ) -> None:
        self.partition = partition
        self.start_offset = start_offset
        self.caught_up_at = caught_up_at
        self.max_records = max_records
        self.max_bytes = max_bytes
        self.position = start_offset
        self._open: dict[Destination, _Open] = {}
        self._pending: dict[tuple[Destination, int], Batch] = {}
        self._pending_bytes = 0
        self.stale_markers = 0

    # -- reading the partition ------------------------------------------------------
    def add(self, offset: int, destination: Destination, item: Routed, now: float) -> None:
        state = self._open.get(destination)
        if state is None:
            state = self._open[destination] = _Open(opened_at=now)
        elif not state.records:
            state.opened_at = now
        state.records.append((offset, item))
        state.size += len(item.value)
        self.position = offset + 1

    def skip(self, offset: int) -> None:
        """A record that belongs to no batch (dead-lettered, control)."""
        self.position = max(self.position, offset + 1)

    def on_marker(self, offset: int, marker: CutMarker) -> Batch | None:
        self.position = max(self.position, offset + 1)
        dest = marker.destination
        state = self._open.get(dest)
        if state is None:
            return None
        if state.requested == (marker.first_offset, marker.last_offset):
            state.requested = None
        if marker.first_offset < self.start_offset:
            # Began before our start, i.e. before the committed offset: delivered.
            self._keep(dest, state, lambda o: o > marker.last_offset)
            return None
        taken = [r for r in state.records if marker.first_offset <= r[0] <= marker.last_offset]
        if not taken:
            return None
        if taken[0][0] != marker.first_offset:
            self.stale_markers += 1
        self._keep(dest, state, lambda o: not marker.first_offset <= o <= marker.last_offset)
        batch = Batch(dest, self.partition, taken, marker.cut_time, marker.reason)
        self._pending[(dest, batch.first_offset)] = batch
        self._pending_bytes += batch.size
        return batch

    def _keep(self, dest: Destination, state: _Open, keep: object) -> None:
        kept = [r for r in state.records if keep(r[0])]  # type: ignore[operator]
        state.records = kept
        state.size = sum(len(r.value) for _, r in kept)
        if not kept and state.requested is None:
            del self._open[dest]

    # -- deciding cuts ---------------------------------------------------------------
    def due(
        self, now: float, interval: float, *, flush: bool = False, flush_reason: str = "shutdown"
    ) -> list[CutRequest]:
        """Destinations whose batch should be cut now; each gets one outstanding request.
        ``flush`` cuts every open batch (at shutdown, or when the writer's buffer
        budget is spent)."""
        if self.position < self.caught_up_at:
            return []
        out: list[CutRequest] = []
        for dest, state in self._open.items():
            if state.requested is not None or not state.records:
                continue
            reason = None
            take = state.records
            if len(take) >= self.max_records or state.size >= self.max_bytes:
                reason = "size"
                take = _bounded(take, self.max_records, self.max_bytes)
            elif flush:
                reason = flush_reason
            elif now - state.opened_at >= interval:
                reason = "interval"
            if reason is None:
                continue
            first, last = take[0][0], take[-1][0]
            state.requested = (first, last)
            # Records that arrive from now on belong to the next file, whose
            # interval starts now: one file per destination per interval.
            state.opened_at = now
            out.append(CutRequest(dest, first, last, reason))
        return out

    def next_due(self, interval: float) -> float | None:
        """When the earliest open batch's interval ends (the clock of :meth:`due`), or
        None if no batch waits on the clock: the writer holds its polls no longer than
        this, so a file is cut when its interval ends, not up to a poll linger later."""
        if self.position < self.caught_up_at:
            return None
        starts = [s.opened_at for s in self._open.values() if s.records and s.requested is None]
        return min(starts) + interval if starts else None

    def cancel_request(self, dest: Destination) -> None:
        """The marker could not be produced; ask again at the next check."""
        state = self._open.get(dest)
        if state is not None:
            state.requested = None

    # -- delivery and commit ---------------------------------------------------------
    def delivered(self, batch: Batch) -> None:
        """Delivered, or parked on routed-retry: either way no longer needed here."""
        if self._pending.pop((batch.destination, batch.first_offset), None) is not None:
            self._pending_bytes -= batch.size

    def committable(self) -> int:
        """The offset to commit: everything before it is in a delivered file."""
        firsts = [s.records[0][0] for s in self._open.values() if s.records]
        firsts += [b.first_offset for b in self._pending.values()]
        return min([*firsts, self.position])

    @property
    def open_destinations(self) -> int:
        return sum(1 for s in self._open.values() if s.records)

    @property
    def buffered_bytes(self) -> int:
        """Bytes of records held: open batches and cut ones not yet delivered."""
        return self._pending_bytes + sum(s.size for s in self._open.values())

    @property
    def cut_requested(self) -> bool:
        """A cut marker is on its way: the partition must be read up to it."""
        return any(s.requested is not None for s in self._open.values())

    @property
    def pending_batches(self) -> int:
        return len(self._pending)

    def idle(self) -> bool:
        return not self._pending and self.open_destinations == 0


def _bounded(
    records: list[tuple[int, Routed]], max_records: int, max_bytes: int
) -> list[tuple[int, Routed]]:
    size = 0
    for i, (_, r) in enumerate(records):
        size += len(r.value)
        if i + 1 >= max_records or size >= max_bytes:
            return records[: i + 1]
    return records
