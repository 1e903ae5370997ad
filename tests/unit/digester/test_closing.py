"""Which log files each digest lists, and when windows close (guide lines 7848-8420)."""

from __future__ import annotations

import datetime as dt

from recorder.integrity.chain import ChainState
from recorder.integrity.closing import PartitionWindows, WindowMarker
from recorder.integrity.digest import DigestWindow, PreviousDigest
from recorder.integrity.manifest import LogFileManifest
from recorder.trails.destination import Destination

ARN = "arn:aws:cloudtrail:us-east-2:111122223333:trail/t"
CHAIN = Destination(ARN, "111122223333", "us-east-2")
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


def windows(
    start: int = 0, *, caught_up_at: int = 0, final_wait: dt.timedelta = dt.timedelta(0)
) -> PartitionWindows:
    return PartitionWindows(
        0, start, caught_up_at=caught_up_at, interval=HOUR, grace=GRACE, final_wait=final_wait
    )


def state_ending(end: dt.datetime) -> ChainState:
    t = end.strftime("%Y-%m-%dT%H:%M:%SZ")
    return ChainState(CHAIN, PreviousDigest("b", "prev-key", "a" * 64, "ff", t))


def test_starting_window_opens_at_first_delivery_and_closes_after_grace() -> None:
    w = windows()
    w.add(0, manifest("f1", T0 + dt.timedelta(minutes=5)))
    w.add(1, manifest("f2", T0 + dt.timedelta(minutes=50)))
    assert w.due(T0 + HOUR, {}) == []
    (m,) = w.due(T0 + HOUR + dt.timedelta(minutes=10), {})
    assert m.window.start == T0 + dt.timedelta(minutes=5)
    assert m.window.end == T0 + dt.timedelta(minutes=65)
    assert (m.first_offset, m.last_offset, m.final) == (0, 1, False)
    closed = w.on_marker(2, WindowMarker.from_bytes(m.to_bytes()), None)
    assert closed is not None
    assert [f.key for f in closed.files] == ["f1", "f2"]
    assert w.committable() == 0  # not yet written
    w.written(closed, None)
    assert w.committable() == 3


def test_continuing_chain_gets_an_empty_digest_for_an_hour_without_files() -> None:
    w = windows()
    states = {CHAIN: state_ending(T0)}
    w.track(CHAIN, states[CHAIN])
    assert w.due(T0 + HOUR + GRACE - dt.timedelta(seconds=1), states) == []
    (m,) = w.due(T0 + HOUR + GRACE, states)
    assert (m.window.start, m.window.end) == (T0, T0 + HOUR)
    assert (m.first_offset, m.last_offset) == (-1, -1)
    closed = w.on_marker(0, m, states[CHAIN])
    assert closed is not None and closed.files == ()


def test_files_delivered_after_the_window_wait_for_the_next_one() -> None:
    w = windows()
    states = {CHAIN: state_ending(T0)}
    w.track(CHAIN, states[CHAIN])
    w.add(0, manifest("in", T0 + dt.timedelta(minutes=59)))
    w.add(1, manifest("late", T0 + HOUR + dt.timedelta(seconds=30)))
    (m,) = w.due(T0 + HOUR + GRACE, states)
    assert (m.first_offset, m.last_offset) == (0, 0)
    closed = w.on_marker(2, m, states[CHAIN])
    assert closed is not None and [f.key for f in closed.files] == ["in"]
    assert w.committable() == 0
    w.written(closed, state_ending(T0 + HOUR))
    assert w.committable() == 1  # "late" is in the next window
    (m2,) = w.due(T0 + 2 * HOUR + GRACE, {CHAIN: state_ending(T0 + HOUR)})
    assert (m2.window.start, m2.first_offset, m2.last_offset) == (T0 + HOUR, 1, 1)


def test_replayed_marker_of_a_written_digest_is_skipped() -> None:
    w = windows(5, caught_up_at=5)
    w.add(5, manifest("f", T0 + dt.timedelta(minutes=1)))
    marker = WindowMarker(CHAIN, DigestWindow(T0, T0 + HOUR), 5, 5)
    assert w.on_marker(6, marker, state_ending(T0 + HOUR)) is None
    assert w.committable() == 7


def test_final_digest_waits_for_files_cut_after_the_stop() -> None:
    """Guide ~8392: the final digest lists remaining log files with events up to and
    including StopLogging; files the writer cuts after the stop are in it."""
    wait = dt.timedelta(minutes=5)
    w = windows(final_wait=wait)
    states = {CHAIN: state_ending(T0)}
    w.track(CHAIN, states[CHAIN])
    w.add(0, manifest("before", T0 + dt.timedelta(minutes=10)))
    stopped = T0 + dt.timedelta(minutes=20)
    w.end(CHAIN, stopped, states[CHAIN])
    assert w.due(stopped + dt.timedelta(minutes=1), states) == []  # still waiting
    w.add(1, manifest("cut-after-stop", stopped + dt.timedelta(minutes=2)))
    now = stopped + wait
    (m,) = w.due(now, states)
    assert m.final is True
    assert (m.window.start, m.window.end) == (T0, stopped)
    assert (m.first_offset, m.last_offset) == (0, 1)
    closed = w.on_marker(2, m, states[CHAIN])
    assert closed is not None and [f.key for f in closed.files] == ["before", "cut-after-stop"]
    ended = ChainState(CHAIN, None, ended="x")
    w.written(closed, ended)
    # no digest for the stopped period: nothing is scheduled any more
    assert w.due(now + 10 * HOUR, {CHAIN: ended}) == []
    # StartLogging: a new chain opens with the next file
    w.resume(CHAIN, ended)
    w.add(3, manifest("restarted", now + 2 * HOUR))
    (m3,) = w.due(now + 3 * HOUR + GRACE, {CHAIN: ended})
    assert (m3.final, m3.window.start, m3.first_offset) == (False, now + 2 * HOUR, 3)


def test_no_regular_digest_reaches_into_the_stopped_period() -> None:
    """An hour that ended before the stop is digested as usual; the one the stop falls
    in is not: the final digest covers it up to the stop."""
    w = windows(final_wait=dt.timedelta(minutes=10))
    states = {CHAIN: state_ending(T0)}
    w.track(CHAIN, states[CHAIN])
    stopped = T0 + HOUR + dt.timedelta(seconds=20)  # just after the hour, before its grace
    w.end(CHAIN, stopped, states[CHAIN])
    (m,) = w.due(T0 + HOUR + GRACE, states)
    assert (m.final, m.window.end) == (False, T0 + HOUR)
    closed = w.on_marker(0, m, states[CHAIN])
    assert closed is not None
    states = {CHAIN: state_ending(T0 + HOUR)}
    w.written(closed, states[CHAIN])
    assert w.due(stopped + dt.timedelta(minutes=9), states) == []  # held for the final
    (f,) = w.due(stopped + dt.timedelta(minutes=10), states)
    assert (f.final, f.window.start, f.window.end) == (True, T0 + HOUR, stopped)


def test_many_chains_cost_only_what_is_due() -> None:
    w = windows()
    states = {}
    for i in range(1000):
        c = Destination(
            f"arn:aws:cloudtrail:us-east-2:111122223333:trail/t{i}", "111122223333", "us-east-2"
        )
        states[c] = ChainState(c, state_ending(T0 + dt.timedelta(seconds=i)).previous)
        w.track(c, states[c])
    assert w.due(T0 + HOUR, states) == []
    due = w.due(T0 + HOUR + GRACE + dt.timedelta(seconds=9), states)
    assert len(due) == 10  # the first ten chains' windows, no others
    assert len(w._heap) == 990


def test_no_markers_before_caught_up_and_one_outstanding_per_chain() -> None:
    w = windows(caught_up_at=3)
    states = {CHAIN: state_ending(T0)}
    w.track(CHAIN, states[CHAIN])
    assert w.due(T0 + 2 * HOUR, states) == []
    w.skip(2)
    assert len(w.due(T0 + 2 * HOUR, states)) == 1
    assert w.due(T0 + 2 * HOUR, states) == []


def test_a_file_written_again_is_listed_once() -> None:
    """The writer re-puts a file after a crash or a rebalance: same key, same hash, a
    second manifest. The digest lists the file once, in first-delivery order."""
    w = windows()
    w.add(0, manifest("f1", T0 + dt.timedelta(minutes=5)))
    w.add(1, manifest("f2", T0 + dt.timedelta(minutes=6)))
    w.add(2, manifest("f1", T0 + dt.timedelta(minutes=5)))  # the replayed put of f1
    (m,) = w.due(T0 + HOUR + dt.timedelta(minutes=10), {})
    closed = w.on_marker(3, WindowMarker.from_bytes(m.to_bytes()), None)
    assert closed is not None
    assert [f.key for f in closed.files] == ["f1", "f2"]
