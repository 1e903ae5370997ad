"""When a digest window closes, and which log files it lists. Pure and synchronous.

As with log files (``recorder.delivery.batcher``), a digest is not decided by the wall
clock alone: when a chain's window is due the digester produces a
:class:`WindowMarker` into the chain's partition of ``delivered``; the digest lists
that chain's manifests with offsets in ``[first, last]`` that the marker's rule
selects (a regular window: delivered before its end). A replay reads the same
manifests and markers and rebuilds the same digest, byte for byte.

A marker whose window ends no later than the chain's recorded state (the last
digest written) names a digest that exists: its manifests are dropped. Chains with
no files in a window still get their (empty) digest.

**Watermarks.** A window closes once the writers' cut watermarks
(``recorder.kafka.watermarks``) for the chain's ``routed`` partitions pass its end:
every log file delivered (cut) before the end is then on ``delivered`` before the
mark, so the digest lists them all (:meth:`PartitionWindows.watermark`). Without
marks (a writer down, a partition no writer owns) a window waits at most
``max_wait`` past its end.

**Ends.** A chain whose trail stops logging, is deleted or turns validation off
*ends*: the final digest ends at the stop and lists the files that hold events up
to it (files the writer cuts after the stop too). It is written once the watermarks
pass the stop's second and ``slack`` (events of the stop's second produced a little
later), or at the latest ``max_wait`` after the stop. A StartLogging while the
final digest is still to come does not cancel it: the old chain still ends at the
stop (listing the files holding events up to it), and a new chain starts at the
StartLogging, so no digest covers the stopped period (guide, around lines
8392-8394).

**Late files.** Each closed window leaves a *fence* (its marker's offset, its end):
a manifest read after the fence whose file belongs before it (delivered before a
regular window's end; holding events from before a final digest's stop) missed its
digest. Such files are not put in a later window (that digest would claim them for
the wrong hour); they get a *backfill digest* of their own, on the chain's backfill
chain (:func:`recorder.integrity.chain.next_backfill`), ``grace`` after the first
one arrives.

Each chain's next deadlines sit in a heap, so the work of one :meth:`due` call is
that of the windows that are due, not of every chain the partition holds.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import orjson

from recorder.integrity.chain import ChainState
from recorder.integrity.digest import DigestWindow
from recorder.integrity.manifest import LogFileManifest
from recorder.integrity.naming import digest_chain
from recorder.integrity.times import format_time, parse_time
from recorder.trails.destination import Destination

MARKER_HEADER = "recorder-digest-close"
SECOND = dt.timedelta(seconds=1)
#: Log files a chain remembers having listed: a manifest published again for one of
#: them (the writer re-puts a file after a crash) is not a late file.
RECENT_LISTED = 10_000

#: ``regular``: files delivered before the window's end; ``final``: the files holding
#: events up to the stop (all of them, unless the trail logs again); ``backfill``:
#: late files; ``""``: a marker of an older release (every file up to ``last``).
Kind = Literal["regular", "final", "backfill", ""]


@dataclass(frozen=True, slots=True)
class WindowMarker:
    chain: Destination
    window: DigestWindow
    first_offset: int  # -1: no log files in the window
    last_offset: int
    final: bool = False
    kind: Kind = ""
    #: A final digest of a trail that logs again: it lists the files whose oldest
    #: event is no later than this (the stop); the others begin the new chain.
    until: str | None = None
    #: A backfill digest: when it was made (its metadata, the key that signs it).
    generated: str | None = None

    def to_bytes(self) -> bytes:
        return orjson.dumps(
            {
                **self.chain.to_json(),
                "start": format_time(self.window.start),
                "end": format_time(self.window.end),
                "first": self.first_offset,
                "last": self.last_offset,
                "final": self.final,
                "kind": self.kind,
                "until": self.until,
                "generated": self.generated,
            }
        )

    @classmethod
    def from_bytes(cls, value: bytes) -> WindowMarker:
        doc = orjson.loads(value)
        kind = doc.get("kind") or ""
        if kind not in ("regular", "final", "backfill", ""):
            raise ValueError(f"unknown window marker kind {kind!r}")
        return cls(
            digest_chain(Destination.from_json(doc)),
            DigestWindow(parse_time(doc["start"]), parse_time(doc["end"])),
            int(doc["first"]),
            int(doc["last"]),
            bool(doc.get("final", False)),
            kind,
            doc.get("until") or None,
            doc.get("generated") or None,
        )

    def selects(self, offset: int, m: LogFileManifest, at: int) -> bool:
        """Whether this marker, read at offset ``at``, lists the manifest at ``offset``.

        Every manifest read before the marker that its rule takes: those that arrived
        between the request and the marker too (they are in no later window). A marker
        of an older release takes the files up to its ``last``.
        """
        if not self.kind:
            return offset <= self.last_offset
        return offset < at and _selects(self.kind, self.window.end, self.until, m)


def _selects(kind: Kind, end: dt.datetime, until: str | None, m: LogFileManifest) -> bool:
    if kind == "regular":
        return parse_time(m.delivery_time) < end
    if kind == "final" and until is not None:
        return _holds_until(m, parse_time(until))
    return True


@dataclass(frozen=True, slots=True)
class ClosedWindow:
    """A digest to write: the chain, its window, its log files."""

    chain: Destination
    window: DigestWindow
    files: tuple[LogFileManifest, ...]
    final: bool
    backfill: bool = False
    generated: str | None = None  # a backfill digest's generation time
    offset: int = -1  # its marker's offset: the chain's fence once written


@dataclass(frozen=True, slots=True)
class Fence:
    """The last window closed in the log: files read after ``offset`` that belong
    before ``end`` (a final: hold events up to ``end``) missed their digest."""

    offset: int
    end: dt.datetime
    final: bool

    @classmethod
    def of(cls, state: ChainState | None) -> Fence | None:
        if state is None or state.offset is None:
            return None  # no offset recorded (an older release): no file is late
        if state.previous is not None:
            return cls(state.offset, parse_time(state.previous.end_time), False)
        if state.ended is not None:
            return cls(state.offset, parse_time(state.ended), True)
        return None

    def misses(self, offset: int, m: LogFileManifest) -> bool:
        if offset <= self.offset:
            return False
        if self.final:
            return _holds_until(m, self.end)
        return parse_time(m.delivery_time) < self.end


def _holds_until(m: LogFileManifest, until: dt.datetime) -> bool:
    """Whether the file holds an event from no later than ``until``'s second (event
    times have whole seconds; the stop's own second is before the stop)."""
    oldest = m.oldest_event_time or m.delivery_time
    return parse_time(oldest) <= until.replace(microsecond=0)


@dataclass(slots=True)
class _Chain:
    files: list[tuple[int, LogFileManifest]] = field(default_factory=list)
    late: list[tuple[int, LogFileManifest]] = field(default_factory=list)
    fence: Fence | None = None
    requested: bool = False
    backfill_requested: bool = False
    ended_at: dt.datetime | None = None  # the stop the next final digest ends at
    cut_until: int = -1  # the writers' watermark for the chain's partitions (epoch ms)
    waiting_for: int | None = None  # the watermark it waits for (an entry in the waits)
    resumed_at: dt.datetime | None = None  # the trail logs again since (final still due)
    ended_again_at: dt.datetime | None = None  # ... and stopped again since
    started_at: dt.datetime | None = None  # where a chain started by StartLogging opens
    due_at: dt.datetime | None = None  # its entry in the heap (None: not scheduled)
    backfill_due_at: dt.datetime | None = None
    late_seen: dt.datetime | None = None  # when the late files waiting were first seen
    recent: OrderedDict[tuple[str, str], None] = field(default_factory=OrderedDict)


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
        slack: dt.timedelta = dt.timedelta(0),
    ) -> None:
        self.partition = partition
        self.start_offset = start_offset
        self.caught_up_at = caught_up_at
        self.position = start_offset
        self.interval = interval
        self.grace = grace
        self.final_wait = final_wait  # the most a window waits for the watermarks
        self.slack = slack
        self._waits: list[tuple[int, int, Destination]] = []  # (watermark, seq, chain)
        self._chains: dict[Destination, _Chain] = {}
        self._heap: list[tuple[dt.datetime, int, Destination, bool]] = []
        self._seq = itertools.count()
        # closed, not yet written -> first offset
        self._pending: dict[tuple[Destination, str, bool], int] = {}
        self._first: dict[Destination, int] = {}  # chains holding files -> their first offset
        self._first_late: dict[Destination, int] = {}

    def _chain(self, chain_id: Destination, state: ChainState | None) -> _Chain:
        chain = self._chains.get(chain_id)
        if chain is None:
            chain = self._chains[chain_id] = _Chain(fence=Fence.of(state))
        return chain

    # -- scheduling ---------------------------------------------------------------------
    def _start(self, chain: _Chain, state: ChainState | None) -> dt.datetime | None:
        previous = state.previous if state else None
        if previous is not None:
            return parse_time(previous.end_time)
        if chain.started_at is not None:
            return chain.started_at
        if chain.files:
            return min(parse_time(m.delivery_time) for _, m in chain.files)
        return None  # nothing to digest and no chain to continue

    def _push(self, chain_id: Destination, due_at: dt.datetime, backfill: bool) -> None:
        heapq.heappush(self._heap, (due_at, next(self._seq), chain_id, backfill))

    def track(self, chain_id: Destination, state: ChainState | None) -> None:
        """(Re)schedule a chain after its state changed (loaded, written, cancelled)."""
        chain = self._chain(chain_id, state)
        if chain.late and not chain.backfill_requested and chain.backfill_due_at is None:
            chain.backfill_due_at = parse_time(chain.late[0][1].delivery_time)  # at once
            self._push(chain_id, chain.backfill_due_at, True)
        if chain.requested:
            return  # rescheduled once its marker comes back
        start = self._start(chain, state)
        if start is None:
            chain.due_at = None
            return
        end = start + self.interval
        if chain.ended_at is not None and end >= _second(chain.ended_at):
            # No regular digest reaches into the stopped period: the final one is next.
            closes, needs = chain.ended_at, self._final_mark(chain.ended_at)
        else:
            closes, needs = end + self.grace, _ms(end)
        due_at = closes
        if chain.cut_until < needs:
            self._wait(chain_id, chain, needs)
            due_at = max(closes, (chain.ended_at or end) + self.final_wait)
        if chain.due_at != due_at:
            chain.due_at = due_at
            self._push(chain_id, due_at, False)

    def end(self, chain_id: Destination, at: dt.datetime, state: ChainState | None) -> None:
        """The chain's trail stopped logging, was deleted or turned validation off at ``at``."""
        chain = self._chain(chain_id, state)
        closed = state is not None and state.previous is None and state.ended is not None
        if closed and chain.started_at is None and not chain.files:
            return  # its final digest is written; nothing began since
        if chain.ended_at is None:
            chain.ended_at = at  # a chain StartLogging began keeps its start
            self.track(chain_id, state)
        elif chain.resumed_at is not None and chain.ended_again_at is None:
            chain.ended_again_at = at  # stopped again before the first final was written

    def resume(self, chain_id: Destination, at: dt.datetime, state: ChainState | None) -> None:
        """The trail logs (with validation) again since ``at``. A final digest still to
        come stays due: it ends the old chain at the stop; a new one starts at ``at``."""
        chain = self._chain(chain_id, state)
        if chain.ended_at is not None:
            if chain.resumed_at is None:
                chain.resumed_at = at
            elif chain.ended_again_at is not None:
                chain.ended_again_at = None  # ... and resumed again: one chain from resumed_at
            return
        ended = state.ended if state is not None and state.previous is None else None
        if ended is not None and chain.started_at is None:
            chain.started_at = max(at, parse_time(ended))
            chain.due_at = None
            self.track(chain_id, state)

    def _final_mark(self, stop: dt.datetime) -> int:
        """The watermark a final digest waits for: past the stop's whole second (its
        events are the trail's) and ``slack`` (produced a little after it)."""
        return _ms(stop.replace(microsecond=0) + SECOND + self.slack)

    def _wait(self, chain_id: Destination, chain: _Chain, needs: int) -> None:
        if chain.waiting_for != needs:
            chain.waiting_for = needs
            heapq.heappush(self._waits, (needs, next(self._seq), chain_id))

    def watermark(
        self,
        highest: int,
        of_chain: Callable[[Destination], int],
        states: Mapping[Destination, ChainState],
    ) -> list[Destination]:
        """Writers' cut marks came in (``highest``: the most advanced of them, epoch
        ms). Chains waiting for no more than that are asked their own watermark
        (``of_chain``: the least over their ``routed`` partitions); those it passes
        are due now. Returns them."""
        ready: list[Destination] = []
        blocked: list[tuple[int, int, Destination]] = []
        while self._waits and self._waits[0][0] <= highest:
            entry = heapq.heappop(self._waits)
            needs, _, chain_id = entry
            chain = self._chains.get(chain_id)
            if chain is None or chain.waiting_for != needs:
                continue  # superseded
            chain.cut_until = max(chain.cut_until, of_chain(chain_id))
            if chain.cut_until < needs:
                blocked.append(entry)  # one of its partitions lags: ask again next time
                continue
            chain.waiting_for = None
            ready.append(chain_id)
            if not chain.requested:
                chain.due_at = None
                self.track(chain_id, states.get(chain_id))
        for entry in blocked:
            heapq.heappush(self._waits, entry)
        return ready

    def chain_ids(self) -> list[Destination]:
        return list(self._chains)

    # -- reading ------------------------------------------------------------------------
    def add(self, offset: int, manifest: LogFileManifest, state: ChainState | None = None) -> bool:
        """A manifest read at ``offset``. False: a file this chain has listed already (a
        manifest published again); it is skipped."""
        self.position = max(self.position, offset + 1)
        chain_id = manifest.chain
        chain = self._chain(chain_id, state)
        if (manifest.bucket, manifest.key) in chain.recent:
            return False
        if chain.fence is not None and chain.fence.misses(offset, manifest):
            chain.late.append((offset, manifest))
            self._first_late.setdefault(chain_id, chain.late[0][0])
            if not chain.backfill_requested and chain.backfill_due_at is None:
                chain.backfill_due_at = parse_time(manifest.delivery_time)  # at once, see due
                self._push(chain_id, chain.backfill_due_at, True)
            return True
        chain.files.append((offset, manifest))
        self._first.setdefault(chain_id, chain.files[0][0])
        if chain.due_at is None and not chain.requested and len(chain.files) == 1:
            self.track(chain_id, state)  # a new chain: its window opens with this file
        return True

    def is_open(self, chain_id: Destination) -> bool:
        """Whether a digest of this chain is still to come that a file of its trail may
        belong in: it holds files, or a StartLogging opened it (or is to open it once the
        old chain's final digest is written). Asked of the chain, not of the trail's
        state now: the first file of a chain StartLogging began can be read after the
        trail stopped again, and it belongs in that chain's final digest."""
        chain = self._chains.get(chain_id)
        return bool(
            chain
            and (
                chain.files
                or chain.late
                or chain.started_at is not None
                or chain.resumed_at is not None
            )
        )

    def skip(self, offset: int) -> None:
        self.position = max(self.position, offset + 1)

    def on_marker(
        self, offset: int, marker: WindowMarker, state: ChainState | None
    ) -> ClosedWindow | None:
        self.position = max(self.position, offset + 1)
        chain = self._chain(marker.chain, state)
        if marker.kind == "backfill":
            return self._on_backfill(offset, marker, chain, state)
        chain.requested = False
        files = [f for f in chain.files if marker.selects(*f, offset)]
        taken = {id(f) for f in files}
        chain.files = [f for f in chain.files if id(f) not in taken]
        self._refirst(marker.chain, chain)
        fence = Fence(offset, marker.window.end, marker.final)
        if chain.fence is None or chain.fence.end <= fence.end:
            chain.fence = fence
        self._remember(chain, files)
        written_until = None
        if state is not None:
            written_until = state.previous.end_time if state.previous else state.ended
        if (marker.first_offset >= 0 and marker.first_offset < self.start_offset) or (
            written_until is not None and parse_time(written_until) >= marker.window.end
        ):
            if marker.final:
                self._after_final(chain)
            self.track(marker.chain, state)
            return None  # began before the committed offset, or this digest exists
        end = format_time(marker.window.end)
        self._pending[(marker.chain, end, False)] = min((o for o, _ in files), default=offset)
        return ClosedWindow(
            marker.chain, marker.window, _unique(files), marker.final, offset=offset
        )

    def _on_backfill(
        self, offset: int, marker: WindowMarker, chain: _Chain, state: ChainState | None
    ) -> ClosedWindow | None:
        chain.backfill_requested = False
        chain.late_seen = None
        files = [f for f in chain.late if marker.first_offset <= f[0] <= marker.last_offset]
        chain.late = [f for f in chain.late if f[0] > marker.last_offset]
        self._refirst(marker.chain, chain)
        self._remember(chain, files)
        written = state.backfill.end_time if state and state.backfill else None
        if not files or (written is not None and parse_time(written) >= marker.window.end):
            self.track(marker.chain, state)
            return None  # written before a replay, or nothing left to list
        end = format_time(marker.window.end)
        self._pending[(marker.chain, end, True)] = files[0][0]
        return ClosedWindow(
            marker.chain,
            marker.window,
            _unique(files),
            False,
            backfill=True,
            generated=marker.generated,
            offset=offset,
        )

    def _remember(self, chain: _Chain, files: list[tuple[int, LogFileManifest]]) -> None:
        for _, m in files:
            chain.recent[(m.bucket, m.key)] = None
        while len(chain.recent) > RECENT_LISTED:
            chain.recent.popitem(last=False)

    def _refirst(self, chain_id: Destination, chain: _Chain) -> None:
        for firsts, held in ((self._first, chain.files), (self._first_late, chain.late)):
            if held:
                firsts[chain_id] = held[0][0]
            else:
                firsts.pop(chain_id, None)

    def _after_final(self, chain: _Chain) -> None:
        """The final digest is written: the chain ended; a StartLogging since opens the
        next one (and a stop since then is the next one's end)."""
        chain.started_at = chain.resumed_at
        chain.ended_at = chain.ended_again_at if chain.resumed_at is not None else None
        chain.resumed_at = None
        chain.ended_again_at = None
        chain.due_at = None

    def written(self, closed: ClosedWindow, state: ChainState | None) -> None:
        """The digest is stored (or will never be): ``state`` is the chain's new state."""
        end = format_time(closed.window.end)
        self._pending.pop((closed.chain, end, closed.backfill), None)
        if closed.final:
            chain = self._chains.get(closed.chain)
            if chain is not None:
                self._after_final(chain)
        self.track(closed.chain, state)

    def late_files(
        self, chain_id: Destination, files: tuple[LogFileManifest, ...], at: int
    ) -> None:
        """Files a digest we built listed and the one found stored does not (another
        digester wrote the window): they need a backfill digest. They are held at
        ``at`` (the closed window's marker) until it is written."""
        chain = self._chains.get(chain_id)
        if chain is None or not files:
            return
        chain.late.extend((at, m) for m in files)
        chain.late.sort(key=lambda f: f[0])
        self._first_late[chain_id] = chain.late[0][0]
        if not chain.backfill_requested and chain.backfill_due_at is None:
            chain.backfill_due_at = parse_time(files[0].delivery_time)  # at once, see due
            self._push(chain_id, chain.backfill_due_at, True)

    def due(self, now: dt.datetime, states: Mapping[Destination, ChainState]) -> list[WindowMarker]:
        """Windows to close now (markers to produce), popped from the deadline heap."""
        if self.position < self.caught_up_at:
            return []
        out: list[WindowMarker] = []
        while self._heap and self._heap[0][0] <= now:
            due_at, _, chain_id, backfill = heapq.heappop(self._heap)
            chain = self._chains.get(chain_id)
            if chain is None:
                continue
            if backfill:
                marker = self._backfill_marker(chain_id, chain, states.get(chain_id), now)
                if marker is not None:
                    out.append(marker)
                continue
            if chain.due_at != due_at or chain.requested:
                continue  # superseded by a later schedule
            chain.due_at = None
            marker = self._marker(chain_id, chain, states.get(chain_id), now)
            if marker is None:
                self.track(chain_id, states.get(chain_id))
                continue
            chain.requested = True
            out.append(marker)
        return out

    def _backfill_marker(
        self, chain_id: Destination, chain: _Chain, state: ChainState | None, now: dt.datetime
    ) -> WindowMarker | None:
        chain.backfill_due_at = None
        if chain.backfill_requested or not chain.late:
            return None
        if chain.late_seen is None:
            chain.late_seen = now  # more may follow: gather them for ``grace``
        if now < chain.late_seen + self.grace:
            chain.backfill_due_at = chain.late_seen + self.grace
            self._push(chain_id, chain.backfill_due_at, True)
            return None
        chain.backfill_requested = True
        deliveries = [parse_time(m.delivery_time) for _, m in chain.late]
        start, end = min(deliveries), max(deliveries) + SECOND
        if state is not None and state.backfill is not None:
            # validate-logs walks backfill digests newest key first, following links:
            # their keys (their end times) must grow along their chain.
            end = max(end, parse_time(state.backfill.end_time) + SECOND)
        return WindowMarker(
            chain_id,
            DigestWindow(min(start, end - SECOND), end),
            chain.late[0][0],
            chain.late[-1][0],
            kind="backfill",
            generated=format_time(now),
        )

    def _marker(
        self, chain_id: Destination, chain: _Chain, state: ChainState | None, now: dt.datetime
    ) -> WindowMarker | None:
        start = self._start(chain, state)
        if start is None:
            return None
        end = start + self.interval
        ended_at = chain.ended_at
        if ended_at is not None and end >= _second(ended_at):
            if chain.cut_until < self._final_mark(ended_at) and now < ended_at + self.final_wait:
                return None  # an early wake-up: the final is due later
            # It ends when the chain ended, and lists the files that hold events up to
            # the stop (cut after it too): all the chain has, unless the trail logs again.
            end = max(start + SECOND, _second(ended_at))
            until = format_time(ended_at) if chain.resumed_at is not None else None
            kind: Kind = "final"
        elif now < end + self.grace or (chain.cut_until < _ms(end) and now < end + self.final_wait):
            return None  # an early wake-up (its end moved, or the watermarks lag)
        else:
            until, kind = None, "regular"
        selected = [o for o, m in chain.files if _selects(kind, end, until, m)]
        first, last = (min(selected), max(selected)) if selected else (-1, -1)
        window = DigestWindow(start, end)
        return WindowMarker(chain_id, window, first, last, kind == "final", kind, until)

    def cancel(
        self, chain_id: Destination, state: ChainState | None, backfill: bool = False
    ) -> None:
        chain = self._chains.get(chain_id)
        if chain is not None:
            if backfill:
                chain.backfill_requested = False
            else:
                chain.requested = False
            self.track(chain_id, state)

    def committable(self) -> int:
        """The offset to commit: the first one a replay still needs (its cost grows with
        the chains holding files or unwritten digests, not with all chains)."""
        return min(
            [
                *self._first.values(),
                *self._first_late.values(),
                *self._pending.values(),
                self.position,
            ]
        )


def _second(t: dt.datetime) -> dt.datetime:
    """The second a time falls in: a digest's times have whole seconds, and a window
    ending in the stop's second ends at the stop (it is the final one)."""
    return t.replace(microsecond=0)


def _ms(t: dt.datetime) -> int:
    return int(t.timestamp() * 1000)


def _unique(files: list[tuple[int, LogFileManifest]]) -> tuple[LogFileManifest, ...]:
    """A file the writer wrote again (after a crash or a hand-over) has a manifest
    again, with the same key and hash: a digest lists each log file once."""
    unique: dict[tuple[str, str], LogFileManifest] = {}
    for _, m in files:
        unique.setdefault((m.bucket, m.key), m)
    return tuple(unique.values())
