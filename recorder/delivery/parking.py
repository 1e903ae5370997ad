"""Parked deliveries: what goes on the ``routed-retry`` topic, and the index of it. Pure.

A destination whose puts fail is *parked*: its cut batches are written to
``routed-retry`` (same partition number as the ``routed`` partition they came from,
keyed by destination) and dropped from memory, so the ``routed`` partition's committed
offset moves on. Each parked batch carries the original key seed and cut time, so a
later delivery writes exactly the object key the first attempt would have written.
Once a batch is delivered (or dead-lettered), a ``done`` record naming its offset
follows it in the same partition; a new owner of the partition rebuilds the index
from the committed offset and skips what is done.

The index keeps only offsets and times (never the events): one *lane* per
destination and kind (``file`` or ``notice``), in offset order. A destination with a
non-empty ``file`` lane gets its new batches parked behind the old ones, so its
parked events are delivered in order once it works again.
"""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass, field

import orjson

from recorder.delivery.batcher import Batch, Routed
from recorder.delivery.target import DeliveryTarget
from recorder.trails.destination import Destination

PARKED_HEADER = "recorder-parked"
FILE, NOTICE, DONE, INDEX = "file", "notice", "done", "index"


@dataclass(frozen=True, slots=True)
class ParkedFile:
    """A cut batch waiting for its destination: the log file's records, and what fixes
    its object key (seed, cut time)."""

    destination: Destination
    partition: int
    first_offset: int
    last_offset: int
    seed: str
    cut_time: str
    reason: str
    parked_at: float
    error: str
    records: tuple[Routed, ...]
    #: Where the trail delivered when the batch was parked: a deleted trail's last
    #: known destination survives a restart.
    target: DeliveryTarget | None = None

    @classmethod
    def of(
        cls, batch: Batch, target: DeliveryTarget | None, parked_at: float, error: str
    ) -> ParkedFile:
        return cls(
            batch.destination,
            batch.partition,
            batch.first_offset,
            batch.last_offset,
            batch.seed,
            batch.cut_time,
            batch.reason,
            parked_at,
            error,
            tuple(r for _, r in batch.records),
            target,
        )

    def to_bytes(self) -> bytes:
        """A JSON header line, then one rendered record per line (rendered records are
        single-line JSON: a newline inside a string is escaped)."""
        head = orjson.dumps(
            {
                "partition": self.partition,
                "first": self.first_offset,
                "last": self.last_offset,
                "seed": self.seed,
                "cutTime": self.cut_time,
                "reason": self.reason,
                "parkedAt": self.parked_at,
                "error": self.error,
                "target": _target_dict(self.target),
                "times": [r.event_time for r in self.records],
                "ids": [r.event_id for r in self.records],
            }
        )
        return b"\n".join([head, *(r.value for r in self.records)])

    @classmethod
    def from_record(cls, key: bytes, value: bytes) -> ParkedFile:
        head, *values = value.split(b"\n")
        h = orjson.loads(head)
        times, ids = h["times"], h["ids"]
        if not (len(values) == len(times) == len(ids)) or not values:
            raise ValueError("parked file: record count does not match its header")
        return cls(
            Destination.from_key(key),
            int(h["partition"]),
            int(h["first"]),
            int(h["last"]),
            str(h["seed"]),
            str(h["cutTime"]),
            str(h["reason"]),
            float(h["parkedAt"]),
            str(h["error"]),
            tuple(Routed(v, t, i) for v, t, i in zip(values, times, ids, strict=True)),
            _target_of(h.get("target")),
        )

    def to_batch(self) -> Batch:
        """The batch again, with the same seed (hence the same object key)."""
        n = len(self.records)
        offsets = [self.first_offset + i for i in range(n - 1)] + [self.last_offset]
        batch = Batch(
            self.destination,
            self.partition,
            list(zip(offsets, self.records, strict=True)),
            self.cut_time,
            self.reason,
        )
        if batch.seed != self.seed:
            raise ValueError("parked file: its seed does not match its records")
        return batch


@dataclass(frozen=True, slots=True)
class ParkedNotice:
    """An SNS notice for a file already in S3, waiting for its topic."""

    destination: Destination
    topic_arn: str
    bucket: str
    key: str
    parked_at: float
    error: str

    def to_bytes(self) -> bytes:
        return orjson.dumps(
            {
                "topicArn": self.topic_arn,
                "bucket": self.bucket,
                "key": self.key,
                "parkedAt": self.parked_at,
                "error": self.error,
            }
        )

    @classmethod
    def from_record(cls, key: bytes, value: bytes) -> ParkedNotice:
        h = orjson.loads(value)
        return cls(
            Destination.from_key(key),
            str(h["topicArn"]),
            str(h["bucket"]),
            str(h["key"]),
            float(h["parkedAt"]),
            str(h["error"]),
        )


def _target_dict(t: DeliveryTarget | None) -> dict[str, object] | None:
    if t is None:
        return None
    return {
        "bucket": t.bucket,
        "prefix": t.prefix,
        "kmsKeyId": t.kms_key_id,
        "snsTopicArn": t.sns_topic_arn,
        "logFileValidation": t.log_file_validation,
    }


def _target_of(d: dict[str, object] | None) -> DeliveryTarget | None:
    if not d:
        return None
    return DeliveryTarget(
        bucket=str(d["bucket"]),
        prefix=d.get("prefix") or None,  # type: ignore[arg-type]
        kms_key_id=d.get("kmsKeyId") or None,  # type: ignore[arg-type]
        sns_topic_arn=d.get("snsTopicArn") or None,  # type: ignore[arg-type]
        log_file_validation=bool(d.get("logFileValidation")),
    )


def done_record(offset: int) -> bytes:
    return orjson.dumps({"offset": offset})


def done_offset(value: bytes) -> int:
    return int(orjson.loads(value)["offset"])


@dataclass(slots=True)
class Entry:
    offset: int
    parked_at: float
    events: int


@dataclass(slots=True)
class Lane:
    """One destination's parked files (or notices), oldest first, and its schedule."""

    destination: Destination
    kind: str
    entries: deque[Entry] = field(default_factory=deque)
    attempts: int = 0
    next_at: float = 0.0
    last_error: str = ""
    busy: bool = False


class ParkedIndex:
    """The parked entries of one ``routed-retry`` partition.

    Every lookup is by key or off a heap: an entry done (by offset), the committable
    offset (the oldest entry still parked), the lanes due for a retry and the gauges
    cost O(log n) or O(1), not a scan of everything parked. :meth:`snapshot` is the
    whole index as a small record (offsets, times, errors; never the events): written
    to the partition as a checkpoint, it lets a new owner rebuild the index from the
    checkpoint on, instead of reading every record since the oldest parked one.
    """

    def __init__(self, start: int) -> None:
        self.position = start  # next offset after everything read or written
        self.lanes: dict[tuple[Destination, str], Lane] = {}
        self._where: dict[int, tuple[Destination, str]] = {}  # live entry -> its lane
        self._offsets: list[int] = []  # heap of entry offsets (lazily pruned)
        self._times: list[tuple[float, int]] = []  # heap of (parked_at, offset)
        self._due: list[tuple[float, int, tuple[Destination, str]]] = []
        self._seq = 0
        self._events = 0
        self.changes = 0  # bumped on every add/done: whether a new checkpoint is worth it

    def add(
        self, dest: Destination, kind: str, offset: int, parked_at: float, events: int, error: str
    ) -> None:
        key = (dest, kind)
        lane = self.lanes.get(key)
        if lane is None:
            lane = self.lanes[key] = Lane(dest, kind, last_error=error)
        if offset in self._where:
            return  # read again (a checkpoint's entries, then their records)
        lane.entries.append(Entry(offset, parked_at, events))
        self._where[offset] = key
        heapq.heappush(self._offsets, offset)
        heapq.heappush(self._times, (parked_at, offset))
        self._events += events
        self.position = max(self.position, offset + 1)
        self.schedule(lane, lane.next_at)
        self.changes += 1

    def done(self, offset: int) -> None:
        """An entry delivered or dead-lettered (at any position of its lane)."""
        self.position = max(self.position, offset + 1)
        key = self._where.pop(offset, None)
        if key is None:
            return
        self.changes += 1
        lane = self.lanes[key]
        if lane.entries and lane.entries[0].offset == offset:
            entry = lane.entries.popleft()
        else:  # rare: an entry behind the head
            entry = next(e for e in lane.entries if e.offset == offset)
            lane.entries.remove(entry)
        self._events -= entry.events
        lane.attempts = 0
        self.schedule(lane, 0.0)
        if not lane.entries and not lane.busy:
            del self.lanes[key]

    def seen(self, offset: int) -> None:
        self.position = max(self.position, offset + 1)

    def parked(self, dest: Destination, kind: str = FILE) -> bool:
        lane = self.lanes.get((dest, kind))
        return lane is not None and bool(lane.entries)

    def schedule(self, lane: Lane, at: float) -> None:
        """The lane's next retry is due at ``at`` (monotonic seconds)."""
        lane.next_at = at
        self._seq += 1
        heapq.heappush(self._due, (at, self._seq, (lane.destination, lane.kind)))

    def due(self, now: float) -> list[Lane]:
        """Lanes whose retry is due and not under way (each once)."""
        out: dict[tuple[Destination, str], Lane] = {}
        later = []
        while self._due and self._due[0][0] <= now:
            at, seq, key = heapq.heappop(self._due)
            lane = self.lanes.get(key)
            if lane is None or not lane.entries or key in out:
                continue
            if lane.next_at > now:  # rescheduled later: its newer heap entry stands
                continue
            if lane.busy:
                later.append((at, seq, key))  # look again once it is done
                continue
            out[key] = lane
        for item in later:
            heapq.heappush(self._due, item)
        if len(self._due) > 4 * len(self.lanes) + 64:  # stale schedule entries
            self._due = [(lane.next_at, 0, k) for k, lane in self.lanes.items()]
            heapq.heapify(self._due)
        return list(out.values())

    def committable(self) -> int:
        """Everything before it is delivered or dead-lettered."""
        while self._offsets and self._offsets[0] not in self._where:
            heapq.heappop(self._offsets)
        return min(self._offsets[0], self.position) if self._offsets else self.position

    # -- what the metrics show ---------------------------------------------------------
    def destinations(self) -> set[Destination]:
        return {lane.destination for lane in self.lanes.values() if lane.entries}

    def events(self) -> int:
        return self._events

    def oldest(self) -> float | None:
        while self._times and self._times[0][1] not in self._where:
            heapq.heappop(self._times)
        return self._times[0][0] if self._times else None

    def __len__(self) -> int:
        return len(self._where)

    # -- checkpoints -------------------------------------------------------------------
    def snapshot(self) -> bytes:
        """The index as one record (see the class doc)."""
        return orjson.dumps(
            {
                "position": self.position,
                "lanes": [
                    {
                        "key": lane.destination.key().decode(),
                        "kind": lane.kind,
                        "error": lane.last_error,
                        "entries": [[e.offset, e.parked_at, e.events] for e in lane.entries],
                    }
                    for lane in self.lanes.values()
                    if lane.entries
                ],
            }
        )

    def restore(self, raw: bytes, at: int) -> None:
        """Take a checkpoint read at offset ``at``: the index as it was there."""
        doc = orjson.loads(raw)
        fresh = ParkedIndex(max(int(doc["position"]), at + 1))
        for lane in doc["lanes"]:
            dest = Destination.from_key(str(lane["key"]).encode())
            for offset, parked_at, events in lane["entries"]:
                fresh.add(dest, str(lane["kind"]), int(offset), float(parked_at), int(events), "")
            fresh.lanes[(dest, str(lane["kind"]))].last_error = str(lane["error"])
        fresh.position = max(fresh.position, at + 1)
        self.__dict__.update(fresh.__dict__)
