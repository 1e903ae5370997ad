"""The producer's spill-over journal: events that could not reach Kafka yet.

Append-only JSON-lines segments in one directory. The writer appends to
``active.jsonl``; replay seals it (rename to ``sealed-<n>.jsonl``), sends every line,
and deletes a sealed segment only after Kafka acknowledged all of it, so a crash
during replay replays the segment again rather than losing it. A torn last line
(crash mid-write) is skipped and counted, never fatal.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import orjson


class Journal:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._active = directory / "active.jsonl"
        self._records = self._count_existing()
        self.torn_lines = 0

    def _count_existing(self) -> int:
        n = 0
        for seg in self.segments(include_active=True):
            with seg.open("rb") as f:
                n += sum(1 for line in f if line.endswith(b"\n"))
        return n

    @property
    def records(self) -> int:
        """Events waiting in the journal (the fill level exported as a metric)."""
        return self._records

    def append(self, records: list[tuple[bytes, bytes]]) -> None:
        """Append (key, value) pairs; flushed and fsynced before returning."""
        if not records:
            return
        data = b"".join(orjson.dumps({"k": k.decode(), "v": v.hex()}) + b"\n" for k, v in records)
        with self._lock:
            with self._active.open("ab") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            self._records += len(records)

    def segments(self, *, include_active: bool = False) -> list[Path]:
        sealed = sorted(
            self.directory.glob("sealed-*.jsonl"), key=lambda p: int(p.stem.split("-")[1])
        )
        if include_active and self._active.exists():
            sealed.append(self._active)
        return sealed

    def seal(self) -> list[Path]:
        """Close the active segment so replay can take it; returns every sealed one."""
        with self._lock:
            if self._active.exists() and self._active.stat().st_size > 0:
                existing = self.segments()
                n = int(existing[-1].stem.split("-")[1]) + 1 if existing else 0
                self._active.rename(self.directory / f"sealed-{n}.jsonl")
        return self.segments()

    def read(self, segment: Path) -> Iterator[tuple[bytes, bytes]]:
        with segment.open("rb") as f:
            for line in f:
                if not line.endswith(b"\n"):
                    self.torn_lines += 1
                    continue
                try:
                    obj = orjson.loads(line)
                    yield obj["k"].encode(), bytes.fromhex(obj["v"])
                except (orjson.JSONDecodeError, KeyError, ValueError):
                    self.torn_lines += 1

    def done(self, segment: Path, count: int) -> None:
        with self._lock:
            segment.unlink(missing_ok=True)
            self._records = max(0, self._records - count)
