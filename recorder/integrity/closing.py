"""When a digest window closes, and which log files it lists. Pure and synchronous.

As with log files (``recorder.delivery.batcher``), a digest is not decided by the wall
clock alone: when a chain's window is due the digester produces a
:class:`WindowMarker` into the chain's partition of ``delivered``, and the digest
lists exactly that chain's manifests with offsets in ``[first, last]``. A replay
reads the same manifests and markers and rebuilds the same digest, byte for byte.

A marker whose window ends no later than the chain's recorded state (the last
digest written) names a digest that exists: its manifests are dropped. Chains with
no files in a window still get their (empty) digest; a trail that stops logging
or is deleted gets a final digest, after which its chain starts anew.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import orjson

from recorder.integrity.chain import ChainState
from recorder.integrity.digest import DigestWindow
from recorder.integrity.manifest import LogFileManifest
from recorder.integrity.naming import ChainId
from recorder.integrity.times import format_time, parse_time

MARKER_HEADER = "recorder-digest-close"


@dataclass(frozen=True, slots=True)
class WindowMarker:
    chain: ChainId
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
            ChainId.from_json(doc),
            DigestWindow(parse_time(doc["start"]), parse_time(doc["end"])),
            int(doc["first"]),
            int(doc["last"]),
            bool(doc.get("final", False)),
        )


@dataclass(frozen=True, slots=True)
class ClosedWindow:
    """A digest to write: the chain, its window, its log files."""

    chain: ChainId
    window: DigestWindow
    files: tuple[LogFileManifest, ...]
    final: bool


@dataclass(slots=True)
class _Chain:
    files: list[tuple[int, LogFileManifest]] = field(default_factory=list)
    requested: bool = False


class PartitionWindows:
    def __init__(self, partition: int, start_offset: int, *, caught_up_at: int) -> None:
        self.partition = partition
        self.start_offset = start_offset
        self.caught_up_at = caught_up_at
        self.position = start_offset
        self._chains: dict[ChainId, _Chain] = {}
        self._pending: dict[
            tuple[ChainId, str], int
        ] = {}  # closed, not yet written -> first offset

    def add(self, offset: int, manifest: LogFileManifest) -> None:
        chain = ChainId(manifest.trail_arn, manifest.account_id, manifest.region, manifest.org_id)
        self._chains.setdefault(chain, _Chain()).files.append((offset, manifest))
        self.position = offset + 1

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
        written_until = state.previous.end_time if state and state.previous else None
        if marker.first_offset >= 0 and marker.first_offset < self.start_offset:
            return None  # began before the committed offset: written already
        if written_until is not None and parse_time(written_until) >= marker.window.end:
            return None  # this digest exists
        firsts = [o for o, _ in files]
        self._pending[(marker.chain, format_time(marker.window.end))] = min(firsts, default=offset)
        # A file the writer wrote again (after a crash or a hand-over) has a manifest
        # again, with the same key and hash: a digest lists each log file once.
        unique: dict[tuple[str, str], LogFileManifest] = {}
        for _, m in files:
            unique.setdefault((m.bucket, m.key), m)
        return ClosedWindow(marker.chain, marker.window, tuple(unique.values()), marker.final)

    def written(self, closed: ClosedWindow) -> None:
        self._pending.pop((closed.chain, format_time(closed.window.end)), None)

    def due(
        self,
        now: dt.datetime,
        states: Mapping[ChainId, ChainState],
        chains_here: Iterable[ChainId],
        *,
        interval: dt.timedelta,
        grace: dt.timedelta,
        ended: frozenset[str] = frozenset(),
    ) -> list[WindowMarker]:
        """Windows to close now. ``chains_here``: known chains of this partition;
        ``ended``: trail ARNs that stopped logging or were deleted (final digests)."""
        if self.position < self.caught_up_at:
            return []
        out: list[WindowMarker] = []
        for chain_id in {*chains_here, *self._chains}:
            chain = self._chains.setdefault(chain_id, _Chain())
            if chain.requested:
                continue
            state = states.get(chain_id)
            previous = state.previous if state else None
            final = chain_id.trail_arn in ended
            if previous is not None:
                start = parse_time(previous.end_time)
            elif chain.files:
                start = min(parse_time(m.delivery_time) for _, m in chain.files)
            else:
                continue  # nothing to digest and no chain to continue
            end = start + interval
            if final:
                end = max(start + dt.timedelta(seconds=1), min(end, now))
            elif now < end + grace:
                continue
            window = DigestWindow(start, end)
            in_window = [o for o, m in chain.files if parse_time(m.delivery_time) < end or final]
            first, last = (min(in_window), max(in_window)) if in_window else (-1, -1)
            chain.requested = True
            out.append(WindowMarker(chain_id, window, first, last, final))
        return out

    def cancel(self, chain_id: ChainId) -> None:
        chain = self._chains.get(chain_id)
        if chain is not None:
            chain.requested = False

    def committable(self) -> int:
        firsts = [c.files[0][0] for c in self._chains.values() if c.files]
        firsts += list(self._pending.values())
        return min([*firsts, self.position])
