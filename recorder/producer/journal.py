"""The producer's spill-over journal: what could not reach Kafka yet, on disk.

Each process writes its own directory under one absolute root
(:func:`default_root`, or ``RECORDER_JOURNAL_DIR``), named for the host and process
and held with an exclusive ``flock`` on its ``.lock`` for the process's life. A
forked child (a prefork server's worker) opens a directory of its own. When a
process starts it adopts the directories of processes that are gone (their lock is
free): their segments are moved into its own and replayed, so a crash or a restart
with another pid loses nothing.

Two kinds of segment, append-only JSON lines, fsynced before an append returns:

* ``active.jsonl`` / ``sealed-<n>.jsonl``: encoded records (Kafka key and value)
  waiting for the broker.
* ``awaiting-active.jsonl`` / ``awaiting-sealed-<n>.jsonl``: records waiting for
  their caller's identity (an STS lookup that has not answered yet); they hold no
  credentials, only a fingerprint of them.

Replay seals the active segment (a rename), reads it, and deletes a sealed segment
only after all of it was sent (or moved on), so a crash during replay replays the
segment again rather than losing it. A torn last line (crash mid-write) is skipped
and counted, never fatal.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from recorder.obs.logging import get_logger
from recorder.settings import default_journal_dir

log = get_logger("recorder.producer")

READY = ""
AWAITING = "awaiting-"
_SEALED = re.compile(r"sealed-(\d+)\.jsonl")
_LOCK = ".lock"
#: An active segment past this size is sealed on the next append: replay reads one
#: segment at a time, so this bounds what it holds.
SEGMENT_BYTES = 8 * 1024 * 1024


def default_root() -> Path:
    """An absolute default for the journal root (:func:`recorder.settings.default_journal_dir`)."""
    return default_journal_dir()


class Segments:
    """The segments of one kind in one directory."""

    def __init__(self, directory: Path, kind: str) -> None:
        self.directory = directory
        self.kind = kind
        self._lock = threading.Lock()
        self._active = directory / f"{kind}active.jsonl"
        self._records = sum(self._count(p) for p in self.segments(include_active=True))
        self.torn_lines = 0

    @staticmethod
    def _count(path: Path) -> int:
        with path.open("rb") as f:
            return sum(1 for line in f if line.endswith(b"\n"))

    @property
    def records(self) -> int:
        return self._records

    def append_lines(self, lines: list[bytes]) -> None:
        if not lines:
            return
        data = b"".join(lines)
        with self._lock:
            with self._active.open("ab") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
                full = f.tell() >= SEGMENT_BYTES
            self._records += len(lines)
            if full:
                self._active.rename(
                    self.directory / f"{self.kind}sealed-{self._next_number()}.jsonl"
                )

    def segments(self, *, include_active: bool = False) -> list[Path]:
        sealed = []
        prefix = f"{self.kind}sealed-"
        for p in self.directory.glob(f"{prefix}*.jsonl"):
            m = _SEALED.fullmatch(p.name[len(self.kind) :])
            if m and p.name.startswith(prefix):
                sealed.append((int(m.group(1)), p))
        out = [p for _, p in sorted(sealed)]
        if include_active and self._active.exists():
            out.append(self._active)
        return out

    def _next_number(self) -> int:
        existing = self.segments()
        if not existing:
            return 0
        m = _SEALED.fullmatch(existing[-1].name[len(self.kind) :])
        return int(m.group(1)) + 1 if m else 0

    def seal(self) -> list[Path]:
        """Close the active segment so replay can take it; returns every sealed one."""
        with self._lock:
            if self._active.exists() and self._active.stat().st_size > 0:
                n = self._next_number()
                self._active.rename(self.directory / f"{self.kind}sealed-{n}.jsonl")
        return self.segments()

    def adopt(self, segment: Path) -> None:
        """Move another process's segment of this kind in, as a sealed segment."""
        with self._lock:
            count = self._count(segment)
            n = self._next_number()
            segment.rename(self.directory / f"{self.kind}sealed-{n}.jsonl")
            self._records += count

    def lines(self, segment: Path) -> Iterator[bytes]:
        with segment.open("rb") as f:
            for line in f:
                if not line.endswith(b"\n"):
                    self.torn_lines += 1
                    continue
                yield line

    def done(self, segment: Path, count: int | None = None) -> None:
        """Delete a replayed segment (``count``: its records; None counts them)."""
        with self._lock:
            if count is None:
                count = self._count(segment) if segment.exists() else 0
            segment.unlink(missing_ok=True)
            self._records = max(0, self._records - count)


class Journal:
    """Encoded records (Kafka key, value) waiting for the broker, in ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self._segments = Segments(directory, READY)

    @property
    def records(self) -> int:
        """Events waiting in the journal (the fill level exported as a metric)."""
        return self._segments.records

    @property
    def torn_lines(self) -> int:
        return self._segments.torn_lines

    def append(self, records: list[tuple[bytes, bytes]]) -> None:
        """Append (key, value) pairs; flushed and fsynced before returning."""
        self._segments.append_lines(
            [orjson.dumps({"k": k.decode(), "v": v.hex()}) + b"\n" for k, v in records]
        )

    def segments(self, *, include_active: bool = False) -> list[Path]:
        return self._segments.segments(include_active=include_active)

    def seal(self) -> list[Path]:
        return self._segments.seal()

    def read(self, segment: Path) -> Iterator[tuple[bytes, bytes]]:
        for line in self._segments.lines(segment):
            try:
                obj = orjson.loads(line)
                yield obj["k"].encode(), bytes.fromhex(obj["v"])
            except (orjson.JSONDecodeError, KeyError, ValueError, AttributeError):
                self._segments.torn_lines += 1

    def done(self, segment: Path, count: int | None = None) -> None:
        self._segments.done(segment, count)

    def adopt(self, segment: Path) -> None:
        self._segments.adopt(segment)


class AwaitingJournal:
    """Records waiting for their caller's identity: plain JSON objects, one a line."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._segments = Segments(directory, AWAITING)

    @property
    def records(self) -> int:
        return self._segments.records

    def append(self, entries: list[dict[str, Any]]) -> None:
        self._segments.append_lines([orjson.dumps(e) + b"\n" for e in entries])

    def seal(self) -> list[Path]:
        return self._segments.seal()

    def read(self, segment: Path) -> Iterator[dict[str, Any]]:
        for line in self._segments.lines(segment):
            try:
                entry = orjson.loads(line)
            except orjson.JSONDecodeError:
                self._segments.torn_lines += 1
                continue
            if isinstance(entry, dict):
                yield entry

    def done(self, segment: Path, count: int | None = None) -> None:
        self._segments.done(segment, count)

    def adopt(self, segment: Path) -> None:
        self._segments.adopt(segment)


class ProcessDirectory:
    """This process's journal directory under ``root``, held with an exclusive lock."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        name = f"{_host()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        # Made under a hidden name and locked before it is renamed into view, so no
        # other process ever sees it unlocked and adopts it.
        hidden = self.root / f".new-{name}"
        hidden.mkdir()
        self._fd: int | None = _try_lock(hidden)
        if self._fd is None:  # nobody else knows this name: cannot happen
            raise OSError(f"cannot lock the new journal directory {hidden}")
        self.path = self.root / name
        hidden.rename(self.path)

    def orphans(self) -> Iterator[tuple[Path, int | None]]:
        """Directories of processes that are gone (their lock taken now, the fd given
        back to :meth:`release`), and the root itself for a journal written there
        before journals were per process (fd None)."""
        if any(self.root.glob("*.jsonl")):
            yield self.root, None
        for d in sorted(self.root.iterdir()):
            if d == self.path or not d.is_dir() or d.name.startswith("."):
                continue
            fd = _try_lock(d)
            if fd is not None:
                yield d, fd

    @staticmethod
    def release(directory: Path, fd: int | None) -> None:
        """Remove an adopted directory that is empty now, and drop its lock."""
        if fd is None:
            return
        with contextlib.suppress(OSError):
            (directory / _LOCK).unlink()
            directory.rmdir()
        os.close(fd)

    def forget_after_fork(self) -> None:
        """In a forked child: close the inherited lock descriptor, so that the parent's
        directory is adoptable once the parent is gone (a flock belongs to the open file,
        which the child shares until it closes its copy)."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

    def close(self) -> None:
        """Give the directory up: removed when empty, left (unlocked, adoptable) else."""
        if self._fd is None:
            return
        leftovers = [p for p in self.path.iterdir() if p.name != _LOCK and p.stat().st_size > 0]
        if not leftovers:
            for p in self.path.iterdir():
                p.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                self.path.rmdir()
        os.close(self._fd)
        self._fd = None


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", socket.gethostname())[:40] or "host"


def _try_lock(directory: Path) -> int | None:
    """An exclusive, non-blocking flock on ``directory/.lock``: its fd, or None when
    another process holds it."""
    fd = os.open(directory / _LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd
