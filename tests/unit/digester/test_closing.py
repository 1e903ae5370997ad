"""Which log files each digest lists, and when windows close (guide lines 7848-8420)."""

from __future__ import annotations

import datetime as dt

from recorder.integrity.chain import ChainState
from recorder.integrity.closing import PartitionWindows, WindowMarker
from recorder.integrity.digest import DigestWindow, PreviousDigest
from recorder.integrity.manifest import LogFileManifest
from recorder.integrity.naming import ChainId

ARN = "arn:aws:cloudtrail:us-east-2:111122223333:trail/t"
CHAIN = ChainId(ARN, "111122223333", "us-east-2")
HOUR = dt.timedelta(hours=1)
GRACE = dt.timedelta(minutes=1)
T0 = dt.datetime(2026, 11, 25, 6, 0, tzinfo=dt.UTC)


def manifest(key: str, delivered: dt.datetime) -> LogFileManifest:
    t = delivered.strftime("%Y-%m-%dT%H:%M:%SZ")
    return LogFileManifest.from_json(
        {
            "trailARN": ARN,
            "accountId": "111122223333",
            "region": "us-east-2",
            "orgId": None,
            "bucket": "b",
            "key": key,
            "sha256": "0" * 64,
            "oldestEventTime": t,
            "newestEventTime": t,
            "deliveryTime": t,
            "recordCount": 1,
        }
    )


def state_ending(end: dt.datetime) -> ChainState:
    t = end.strftime("%Y-%m-%dT%H:%M:%SZ")
    return ChainState(CHAIN, PreviousDigest("b", "prev-key", "a" * 64, "ff", t))


def test_starting_window_opens_at_first_delivery_and_closes_after_grace() -> None:
    w = PartitionWindows(0, 0, caught_up_at=0)
    w.add(0, manifest("f1", T0 + dt.timedelta(minutes=5)))
    w.add(1, manifest("f2", T0 + dt.timedelta(minutes=50)))
    assert w.due(T0 + HOUR, {}, [], interval=HOUR, grace=GRACE) == []
    (m,) = w.due(T0 + HOUR + dt.timedelta(minutes=10), {}, [], interval=HOUR, grace=GRACE)
    assert m.window.start == T0 + dt.timedelta(minutes=5)
    assert m.window.end == T0 + dt.timedelta(minutes=65)
    assert (m.first_offset, m.last_offset, m.final) == (0, 1, False)
    closed = w.on_marker(2, WindowMarker.from_bytes(m.to_bytes()), None)
    assert closed is not None
    assert [f.key for f in closed.files] == ["f1", "f2"]
    assert w.committable() == 0  # not yet written
    w.written(closed)
    assert w.committable() == 3


def test_continuing_chain_gets_an_empty_digest_for_an_hour_without_files() -> None:
    w = PartitionWindows(0, 0, caught_up_at=0)
    states = {CHAIN: state_ending(T0)}
    (m,) = w.due(T0 + HOUR + GRACE, states, [CHAIN], interval=HOUR, grace=GRACE)
    assert (m.window.start, m.window.end) == (T0, T0 + HOUR)
    assert (m.first_offset, m.last_offset) == (-1, -1)
    closed = w.on_marker(0, m, states[CHAIN])
    assert closed is not None and closed.files == ()


def test_files_delivered_after_the_window_wait_for_the_next_one() -> None:
    w = PartitionWindows(0, 0, caught_up_at=0)
    states = {CHAIN: state_ending(T0)}
    w.add(0, manifest("in", T0 + dt.timedelta(minutes=59)))
    w.add(1, manifest("late", T0 + HOUR + dt.timedelta(seconds=30)))
    (m,) = w.due(T0 + HOUR + GRACE, states, [CHAIN], interval=HOUR, grace=GRACE)
    assert (m.first_offset, m.last_offset) == (0, 0)
    closed = w.on_marker(2, m, states[CHAIN])
    assert closed is not None and [f.key for f in closed.files] == ["in"]
    assert w.committable() == 0
    w.written(closed)
    assert w.committable() == 1  # "late" is in the next window


def test_replayed_marker_of_a_written_digest_is_skipped() -> None:
    w = PartitionWindows(0, 5, caught_up_at=5)
    w.add(5, manifest("f", T0 + dt.timedelta(minutes=1)))
    marker = WindowMarker(CHAIN, DigestWindow(T0, T0 + HOUR), 5, 5)
    assert w.on_marker(6, marker, state_ending(T0 + HOUR)) is None
    assert w.committable() == 7


def test_final_digest_when_the_trail_stops_logging() -> None:
    w = PartitionWindows(0, 0, caught_up_at=0)
    states = {CHAIN: state_ending(T0)}
    w.add(0, manifest("f", T0 + dt.timedelta(minutes=10)))
    now = T0 + dt.timedelta(minutes=20)
    (m,) = w.due(now, states, [CHAIN], interval=HOUR, grace=GRACE, ended=frozenset({ARN}))
    assert m.final is True
    assert (m.window.start, m.window.end) == (T0, now)
    assert (m.first_offset, m.last_offset) == (0, 0)


def test_no_markers_before_caught_up_and_one_outstanding_per_chain() -> None:
    w = PartitionWindows(0, 0, caught_up_at=3)
    states = {CHAIN: state_ending(T0)}
    assert w.due(T0 + 2 * HOUR, states, [CHAIN], interval=HOUR, grace=GRACE) == []
    w.skip(2)
    assert len(w.due(T0 + 2 * HOUR, states, [CHAIN], interval=HOUR, grace=GRACE)) == 1
    assert w.due(T0 + 2 * HOUR, states, [CHAIN], interval=HOUR, grace=GRACE) == []


def test_a_file_written_again_is_listed_once() -> None:
    """The writer re-puts a file after a crash or a rebalance: same key, same hash, a
    second manifest. The digest lists the file once, in first-delivery order."""
    w = PartitionWindows(0, 0, caught_up_at=0)
    w.add(0, manifest("f1", T0 + dt.timedelta(minutes=5)))
    w.add(1, manifest("f2", T0 + dt.timedelta(minutes=6)))
    w.add(2, manifest("f1", T0 + dt.timedelta(minutes=5)))  # the replayed put of f1
    (m,) = w.due(T0 + HOUR + dt.timedelta(minutes=10), {}, [], interval=HOUR, grace=GRACE)
    closed = w.on_marker(3, WindowMarker.from_bytes(m.to_bytes()), None)
    assert closed is not None
    assert [f.key for f in closed.files] == ["f1", "f2"]
