"""When a digest window closes, and which log files it lists. Pure and synchronous.

As with log files (``recorder.delivery.batcher``), a digest is not decided by the wall
clock alone: when a chain's window is due the digester produces a
:class:`WindowMarker` into the chain's partition of ``delivered``, and the digest
lists exactly that chain's manifests with offsets in ``[first, last]``. A replay
reads the same manifests and markers and rebuilds the same digest, byte for byte.

A marker whose window ends no later than the chain's recorded state (the last
digest written) names a digest that exists: its manifests are dropped. Chains with
no files in a window still get their (empty) digest.

A chain whose trail stops logging, is deleted or turns validation off *ends*: its
final digest waits ``final_wait`` for log files that still hold events from before
the end (files the writer cuts after the stop), lists every file it has, and
leaves the chain with no link; a later start begins a new chain (guide, around
lines 8392-8394).

Each chain's next deadline sits in a heap, so the work of one :meth:`due` call is
that of the windows that are due, not of every chain the partition holds.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field

import orjson

from recorder.integrity.chain import ChainState
from recorder.integrity.digest import DigestWindow
from recorder.integrity.manifest import LogFileManifest
from recorder.integrity.naming import digest_chain
from recorder.integrity.times import format_time, parse_time
from recorder.trails.destination import Destination

MARKER_HEADER = "recorder-digest-close"


@dataclass(frozen=True, slots=True)
class WindowMarker:
    chain: Destination
    window: DigestWindow
    first_offset: int  # -1: no log files in the window
    last_offset: int
    final: bool = False

    def to_bytes(self) -> bytes:
        return orjson.dumps(
            {
                **self.chain.to_json(),
                "start": format_time(self.window.start),
                "end": format_time(self.window.end),
                "first": self.first_offset,
                "last": self.last_offset,
                "final": self.final,
            }
        )

    @classmethod
    def from_bytes(cls, value: bytes) -> WindowMarker:
        doc = orjson.loads(value)
        return cls(
            digest_chain(Destination.from_json(doc)),
            DigestWindow(parse_time(doc["start"]), parse_time(doc["end"])),
            int(doc["first"]),
            int(doc["last"]),
            bool(doc.get("final", False)),
        )


@dataclass(frozen=True, slots=True)
class ClosedWindow:
    """A digest to write: the chain, its window, its log files."""

    chain: Destination
    window: DigestWindow
    files: tuple[LogFileManifest, ...]
    final: bool


@dataclass(slots=True)
class _Chain:
    files: list[tuple[int, LogFileManifest]] = field(default_factory=list)
    requested: bool = False
    ended_at: dt.datetime | None = None  # when its trail was seen to end
    due_at: dt.datetime | None = None  # its entry in the heap (None: not scheduled)


class PartitionWindows:
    def __init__(
        self,
        partition: int,
        start_offset: int,
        *,
        caught_up_at: int,
        interval: dt.timedelta,
        grace: dt.timedelta,
        final_wait: dt.timedelta = dt.timedelta(0),
    ) -> None:
        self.partition = partition
        self.start_offset = start_offset
        self.caught_up_at = caught_up_at
        self.position = start_offset
        self.interval = interval
        self.grace = grace
        self.final_wait = final_wait
        self._chains: dict[Destination, _Chain] = {}
        self._heap: list[tuple[dt.datetime, int, Destination]] = []
        self._seq = itertools.count()
        self._pending: dict[
            tuple[Destination, str], int
        ] = {}  # closed, not yet written -> first offset
        self._first: dict[Destination, int] = {}  # chains holding files -> their first offset

    # -- scheduling ---------------------------------------------------------------------
    def _start(self, chain: _Chain, state: ChainState | None) -> dt.datetime | None:
        previous = state.previous if state else None
        if previous is not None:
            return parse_time(previous.end_time)
        if chain.files:
            return min(parse_time(m.delivery_time) for _, m in chain.files)
        return None  # nothing to digest and no chain to continue

    def track(self, chain_id: Destination, state: ChainState | None) -> None:
        """(Re)schedule a chain after its state changed (loaded, written, cancelled)."""
        chain = self._chains.setdefault(chain_id, _Chain())
        if chain.requested:
            return  # rescheduled once its marker comes back
        start = self._start(chain, state)
        if start is None:
            chain.due_at = None
            return
        due_at = start + self.interval + self.grace
        if chain.ended_at is not None and start + self.interval > chain.ended_at:
            # No regular digest reaches into the stopped period: the final one is next.
            due_at = chain.ended_at + self.final_wait
        if chain.due_at != due_at:
            chain.due_at = due_at
            heapq.heappush(self._heap, (due_at, next(self._seq), chain_id))

    def end(self, chain_id: Destination, at: dt.datetime, state: ChainState | None) -> None:
        """The chain's trail stopped logging, was deleted or turned validation off."""
        chain = self._chains.setdefault(chain_id, _Chain())
        if chain.ended_at is None:
            chain.ended_at = at
            self.track(chain_id, state)

    def resume(self, chain_id: Destination, state: ChainState | None) -> None:
        chain = self._chains.get(chain_id)
        if chain is not None and chain.ended_at is not None:
            chain.ended_at = None
            chain.due_at = None
            self.track(chain_id, state)

    def chain_ids(self) -> list[Destination]:
        return list(self._chains)

    # -- reading ------------------------------------------------------------------------
    def add(self, offset: int, manifest: LogFileManifest) -> None:
        chain_id = manifest.chain
        chain = self._chains.setdefault(chain_id, _Chain())
        chain.files.append((offset, manifest))
        self._first.setdefault(chain_id, chain.files[0][0])
        self.position = offset + 1
        if chain.due_at is None and not chain.requested and len(chain.files) == 1:
            self.track(chain_id, None)  # a new chain: its window opens with this file

    def has_files(self, chain_id: Destination) -> bool:
        chain = self._chains.get(chain_id)
        return bool(chain and chain.files)

    def skip(self, offset: int) -> None:
        self.position = max(self.position, offset + 1)

    def on_marker(
        self, offset: int, marker: WindowMarker, state: ChainState | None
    ) -> ClosedWindow | None:
        self.position = max(self.position, offset + 1)
        chain = self._chains.setdefault(marker.chain, _Chain())
        chain.requested = False
        files = [f for f in chain.files if f[0] <= marker.last_offset]
        chain.files = [f for f in chain.files if f[0] > marker.last_offset]
        if chain.files:
            self._first[marker.chain] = chain.files[0][0]
        else:
            self._first.pop(marker.chain, None)
        written_until = state.previous.end_time if state and state.previous else None
        if (marker.first_offset >= 0 and marker.first_offset < self.start_offset) or (
            written_until is not None and parse_time(written_until) >= marker.window.end
        ):
            self.track(marker.chain, state)
            return None  # began before the committed offset, or this digest exists
        firsts = [o for o, _ in files]
        self._pending[(marker.chain, format_time(marker.window.end))] = min(firsts, default=offset)
        # A file the writer wrote again (after a crash or a hand-over) has a manifest
        # again, with the same key and hash: a digest lists each log file once.
        unique: dict[tuple[str, str], LogFileManifest] = {}
        for _, m in files:
            unique.setdefault((m.bucket, m.key), m)
        return ClosedWindow(marker.chain, marker.window, tuple(unique.values()), marker.final)

    def written(self, closed: ClosedWindow, state: ChainState | None) -> None:
        """The digest is stored (or will never be): ``state`` is the chain's new state."""
        self._pending.pop((closed.chain, format_time(closed.window.end)), None)
        self.track(closed.chain, state)

    def due(self, now: dt.datetime, states: Mapping[Destination, ChainState]) -> list[WindowMarker]:
        """Windows to close now (markers to produce), popped from the deadline heap."""
        if self.position < self.caught_up_at:
            return []
        out: list[WindowMarker] = []
        while self._heap and self._heap[0][0] <= now:
            due_at, _, chain_id = heapq.heappop(self._heap)
            chain = self._chains.get(chain_id)
            if chain is None or chain.due_at != due_at or chain.requested:
                continue  # superseded by a later schedule
            chain.due_at = None
            marker = self._marker(chain_id, chain, states.get(chain_id), now)
            if marker is None:
                self.track(chain_id, states.get(chain_id))
                continue
            chain.requested = True
            out.append(marker)
        return out

    def _marker(
        self, chain_id: Destination, chain: _Chain, state: ChainState | None, now: dt.datetime
    ) -> WindowMarker | None:
        start = self._start(chain, state)
        if start is None:
            return None
        end = start + self.interval
        ended_at = chain.ended_at
        final = ended_at is not None and end > ended_at and now >= ended_at + self.final_wait
        if final:
            assert ended_at is not None
            # It ends when the chain ended, and lists every file the chain has: those
            # cut after the stop hold events from before it.
            end = max(start + dt.timedelta(seconds=1), ended_at)
            in_window = [o for o, _ in chain.files]
        elif now < end + self.grace or (ended_at is not None and end > ended_at):
            return None  # an early wake-up (its end moved, or the final is due later)
        else:
            in_window = [o for o, m in chain.files if parse_time(m.delivery_time) < end]
        first, last = (min(in_window), max(in_window)) if in_window else (-1, -1)
        return WindowMarker(chain_id, DigestWindow(start, end), first, last, final)

    def cancel(self, chain_id: Destination, state: ChainState | None) -> None:
        chain = self._chains.get(chain_id)
        if chain is not None:
            chain.requested = False
            self.track(chain_id, state)

    def committable(self) -> int:
        """The offset to commit: the first one a replay still needs (its cost grows with
        the chains holding files or unwritten digests, not with all chains)."""
        return min([*self._first.values(), *self._pending.values(), self.position])
