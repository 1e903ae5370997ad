"""The spill-over journal keeps every event across seal/replay and torn writes."""

from __future__ import annotations

from pathlib import Path

from recorder.producer.journal import Journal


def test_append_seal_read_done(tmp_path: Path) -> None:
    j = Journal(tmp_path)
    j.append([(b"111122223333", b"\x00\x01"), (b"k2", b"v2")])
    assert j.records == 2
    (seg,) = j.seal()
    assert list(j.read(seg)) == [(b"111122223333", b"\x00\x01"), (b"k2", b"v2")]
    j.append([(b"k3", b"v3")])  # goes to a new active segment
    assert j.records == 3
    j.done(seg, 2)
    assert j.records == 1
    assert [p.name for p in j.seal()] == ["sealed-0.jsonl"]


def test_reopened_journal_counts_what_is_on_disk(tmp_path: Path) -> None:
    Journal(tmp_path).append([(b"k", b"v")] * 5)
    assert Journal(tmp_path).records == 5


def test_torn_last_line_is_skipped_and_counted(tmp_path: Path) -> None:
    j = Journal(tmp_path)
    j.append([(b"k", b"v")])
    with (tmp_path / "active.jsonl").open("ab") as f:
        f.write(b'{"k":"k2","v":"7')  # crash mid-write
    (seg,) = j.seal()
    assert list(j.read(seg)) == [(b"k", b"v")]
    assert j.torn_lines == 1
