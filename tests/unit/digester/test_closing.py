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


def manifest(
    key: str, delivered: dt.datetime, oldest: dt.datetime | None = None
) -> LogFileManifest:
    t = delivered.strftime("%Y-%m-%dT%H:%M:%SZ")
    first = (oldest or delivered).strftime("%Y-%m-%dT%H:%M:%SZ")
    return LogFileManifest.from_json(
        {
            "trailARN": ARN,
            "accountId": "111122223333",
            "region": "us-east-2",
            "orgId": None,
            "bucket": "b",
            "key": key,
            "sha256": "0" * 64,
            "oldestEventTime": first,
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


def state_ending(end: dt.datetime, offset: int | None = None) -> ChainState:
    t = end.strftime("%Y-%m-%dT%H:%M:%SZ")
    return ChainState(CHAIN, PreviousDigest("b", "prev-key", "a" * 64, "ff", t), offset=offset)


def iso(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def marks(w: PartitionWindows, until: dt.datetime, states: dict) -> list[Destination]:  # type: ignore[type-arg]
    """The writers' cut marks reach ``until`` for every partition."""
    ms = int(until.timestamp() * 1000)
    return w.watermark(ms, lambda chain: ms, states)


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
    ended = ChainState(CHAIN, None, ended=iso(stopped), offset=2)
    w.written(closed, ended)
    # no digest for the stopped period: nothing is scheduled any more
    assert w.due(now + 10 * HOUR, {CHAIN: ended}) == []
    # StartLogging: a new chain opens when logging starts again
    w.resume(CHAIN, now + 2 * HOUR, ended)
    w.add(3, manifest("restarted", now + 2 * HOUR))
    assert w.due(now + 3 * HOUR + GRACE, {CHAIN: ended}) == []  # no watermarks: waits ...
    (m3,) = w.due(now + 3 * HOUR + wait, {CHAIN: ended})  # ... at most final_wait
    assert (m3.final, m3.window.start, m3.first_offset) == (False, now + 2 * HOUR, 3)


def test_no_regular_digest_reaches_into_the_stopped_period() -> None:
    """An hour that ended before the stop is digested as usual; the one the stop falls
    in is not: the final digest covers it up to the stop."""
    w = windows(final_wait=dt.timedelta(minutes=10))
    states = {CHAIN: state_ending(T0)}
    w.track(CHAIN, states[CHAIN])
    stopped = T0 + HOUR + dt.timedelta(seconds=20)  # just after the hour, before its grace
    w.end(CHAIN, stopped, states[CHAIN])
    assert marks(w, T0 + HOUR, states) == [CHAIN]  # every file delivered before 07:00 is in
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


def test_the_final_digest_goes_out_as_soon_as_the_watermarks_pass_the_stop() -> None:
    """The wait is an upper bound: writers' cut marks past the stop close it at once."""
    w = windows(final_wait=dt.timedelta(minutes=10))
    states = {CHAIN: state_ending(T0)}
    w.track(CHAIN, states[CHAIN])
    stopped = T0 + dt.timedelta(minutes=20)
    w.end(CHAIN, stopped, states[CHAIN])
    w.add(0, manifest("cut-after-stop", stopped + dt.timedelta(seconds=5), oldest=stopped))
    assert w.due(stopped + dt.timedelta(seconds=8), states) == []
    assert marks(w, stopped + dt.timedelta(milliseconds=999), states) == []  # the stop's second
    assert marks(w, stopped + dt.timedelta(seconds=1), states) == [CHAIN]
    (m,) = w.due(stopped + dt.timedelta(seconds=8), states)
    assert (m.final, m.kind, m.window.end, m.first_offset, m.until) == (
        True,
        "final",
        stopped,
        0,
        None,
    )


def test_start_logging_during_the_final_wait_ends_the_old_chain_and_starts_a_new_one() -> None:
    """Stop at T1, start at T2 before the final digest is written: the final still ends
    at T1 and lists the files holding events up to T1; the next chain starts at T2 and
    lists the rest; nothing covers T1..T2."""
    w = windows(final_wait=dt.timedelta(minutes=10))
    states = {CHAIN: state_ending(T0)}
    w.track(CHAIN, states[CHAIN])
    t1 = T0 + dt.timedelta(minutes=20, seconds=30)
    t2 = t1 + dt.timedelta(seconds=20)
    w.end(CHAIN, t1, states[CHAIN])
    w.add(0, manifest("before-stop", t1 - dt.timedelta(seconds=5)))
    w.resume(CHAIN, t2, states[CHAIN])
    # cut after the start: one file holds the stop's own second, one only events after T2
    w.add(1, manifest("holds-the-stop", t2 + dt.timedelta(seconds=3), oldest=t1))
    w.add(2, manifest("after-start", t2 + dt.timedelta(seconds=4), oldest=t2))
    marks(w, t2 + dt.timedelta(seconds=5), states)
    (m,) = w.due(t2 + dt.timedelta(seconds=5), states)
    assert (m.final, m.window.start, m.window.end, m.until) == (True, T0, t1, iso(t1))
    assert (m.first_offset, m.last_offset) == (0, 1)
    closed = w.on_marker(3, WindowMarker.from_bytes(m.to_bytes()), states[CHAIN])
    assert closed is not None and [f.key for f in closed.files] == ["before-stop", "holds-the-stop"]
    ended = ChainState(CHAIN, None, ended=iso(t1), offset=3)
    w.written(closed, ended)
    assert w.committable() == 2  # after-start is the new chain's
    marks(w, t2 + HOUR, {CHAIN: ended})
    (n,) = w.due(t2 + HOUR + GRACE, {CHAIN: ended})
    assert (n.final, n.window.start, n.window.end) == (False, t2, t2 + HOUR)
    assert (n.first_offset, n.last_offset) == (2, 2)


def test_stop_start_stop_before_the_first_final_gives_two_finals() -> None:
    w = windows(final_wait=dt.timedelta(minutes=10))
    states = {CHAIN: state_ending(T0)}
    w.track(CHAIN, states[CHAIN])
    t1 = T0 + dt.timedelta(minutes=20)
    t2, t3 = t1 + dt.timedelta(seconds=20), t1 + dt.timedelta(seconds=40)
    w.end(CHAIN, t1, states[CHAIN])
    w.resume(CHAIN, t2, states[CHAIN])
    w.end(CHAIN, t3, states[CHAIN])
    w.add(0, manifest("second", t3 + dt.timedelta(seconds=2), oldest=t2 + dt.timedelta(seconds=1)))
    marks(w, t3 + dt.timedelta(seconds=5), states)
    (m,) = w.due(t3 + dt.timedelta(seconds=5), states)
    assert (m.final, m.window.end, m.first_offset) == (True, t1, -1)  # no file held until T1
    closed = w.on_marker(1, m, states[CHAIN])
    assert closed is not None and closed.files == ()
    ended = ChainState(CHAIN, None, ended=iso(t1), offset=1)
    w.written(closed, ended)
    # the watermarks already passed the second stop: its final is due at once
    (f,) = w.due(t3 + dt.timedelta(seconds=6), {CHAIN: ended})
    assert (f.final, f.window.start, f.window.end, f.first_offset) == (True, t2, t3, 0)


def test_a_file_delivered_after_its_windows_digest_gets_a_backfill_digest() -> None:
    w = windows()
    fenced = state_ending(T0 + HOUR, offset=4)  # the 06:00-07:00 digest, closed at offset 4
    states = {CHAIN: fenced}
    w.track(CHAIN, fenced)
    w.add(5, manifest("late", T0 + dt.timedelta(minutes=59)), fenced)  # delivered before 07:00
    w.add(6, manifest("on-time", T0 + HOUR + dt.timedelta(minutes=2)), fenced)
    w.add(7, manifest("late-2", T0 + dt.timedelta(minutes=58, seconds=30)), fenced)
    now = T0 + HOUR + dt.timedelta(minutes=3)
    assert w.due(now, states) == []  # gathered for the grace first
    (b,) = w.due(now + GRACE, states)
    assert (b.kind, b.first_offset, b.last_offset) == ("backfill", 5, 7)
    assert (b.window.start, b.window.end) == (
        T0 + dt.timedelta(minutes=58, seconds=30),
        T0 + dt.timedelta(minutes=59, seconds=1),
    )
    assert b.generated == iso(now + GRACE)
    assert w.committable() == 5
    closed = w.on_marker(8, WindowMarker.from_bytes(b.to_bytes()), fenced)
    assert closed is not None and closed.backfill
    assert [f.key for f in closed.files] == ["late", "late-2"]
    w.written(closed, fenced)
    assert w.committable() == 6  # on-time waits for its own window
    (m,) = w.due(T0 + 2 * HOUR + GRACE, states)
    assert (m.kind, m.first_offset, m.last_offset) == ("regular", 6, 6)


def test_a_file_holding_events_from_before_a_written_final_is_backfilled() -> None:
    w = windows()
    stop = T0 + dt.timedelta(minutes=20)
    ended = ChainState(CHAIN, None, ended=iso(stop), offset=3)
    w.track(CHAIN, ended)
    w.add(4, manifest("parked", stop + dt.timedelta(minutes=30), oldest=stop), ended)
    now = stop + dt.timedelta(minutes=31)
    w.due(now, {CHAIN: ended})
    (b,) = w.due(now + GRACE, {CHAIN: ended})
    assert (b.kind, b.first_offset) == ("backfill", 4)


def test_a_manifest_published_again_after_its_digest_is_not_late() -> None:
    w = windows()
    states = {CHAIN: state_ending(T0)}
    w.track(CHAIN, states[CHAIN])
    assert w.add(0, manifest("f", T0 + dt.timedelta(minutes=10)), states[CHAIN])
    (m,) = w.due(T0 + HOUR + GRACE, states)
    closed = w.on_marker(1, m, states[CHAIN])
    assert closed is not None
    after = state_ending(T0 + HOUR, offset=1)
    w.written(closed, after)
    assert not w.add(2, manifest("f", T0 + dt.timedelta(minutes=10)), after)  # the writer re-put
    assert w.due(T0 + HOUR + 3 * GRACE, {CHAIN: after}) == []


def test_files_another_digester_left_out_are_backfilled() -> None:
    w = windows()
    states = {CHAIN: state_ending(T0)}
    w.track(CHAIN, states[CHAIN])
    w.add(0, manifest("a", T0 + dt.timedelta(minutes=10)), states[CHAIN])
    w.add(1, manifest("b", T0 + dt.timedelta(minutes=11)), states[CHAIN])
    (m,) = w.due(T0 + HOUR + GRACE, states)
    closed = w.on_marker(2, m, states[CHAIN])
    assert closed is not None
    adopted = state_ending(T0 + HOUR, offset=2)
    w.written(closed, adopted)
    w.late_files(CHAIN, (closed.files[1],), closed.offset)
    assert w.committable() == 2
    now = T0 + HOUR + GRACE
    w.due(now, {CHAIN: adopted})
    (b,) = w.due(now + GRACE, {CHAIN: adopted})
    assert (b.kind, b.first_offset, b.last_offset) == ("backfill", 2, 2)
    back = w.on_marker(3, b, adopted)
    assert back is not None and [f.key for f in back.files] == ["b"]


def test_markers_of_an_older_release_take_every_file_up_to_last() -> None:
    w = windows()
    w.add(0, manifest("f1", T0 + dt.timedelta(minutes=5)))
    w.add(1, manifest("f2", T0 + 2 * HOUR))
    legacy = WindowMarker.from_bytes(
        b'{"trailARN": "%s", "accountId": "111122223333", "region": "us-east-2", "orgId": null,'
        b' "start": "2026-11-25T06:05:00Z", "end": "2026-11-25T07:05:00Z", "first": 0,'
        b' "last": 1, "final": false}' % ARN.encode()
    )
    assert legacy.kind == ""
    closed = w.on_marker(2, legacy, None)
    assert closed is not None and [f.key for f in closed.files] == ["f1", "f2"]


def test_a_file_read_between_the_request_and_the_marker_is_in_the_window() -> None:
    """The marker lists what was read before it, not only what was known when it was
    asked for: a file arriving in between is in no later window."""
    w = windows(final_wait=dt.timedelta(minutes=10))
    states = {CHAIN: state_ending(T0)}
    w.track(CHAIN, states[CHAIN])
    stopped = T0 + dt.timedelta(minutes=20)
    w.end(CHAIN, stopped, states[CHAIN])
    w.add(0, manifest("known", stopped - dt.timedelta(minutes=1)))
    marks(w, stopped + dt.timedelta(seconds=5), states)
    (m,) = w.due(stopped + dt.timedelta(seconds=5), states)
    assert (m.first_offset, m.last_offset) == (0, 0)
    w.add(1, manifest("in-between", stopped + dt.timedelta(seconds=6), oldest=stopped))
    closed = w.on_marker(2, WindowMarker.from_bytes(m.to_bytes()), states[CHAIN])
    assert closed is not None and [f.key for f in closed.files] == ["known", "in-between"]


def test_a_window_closes_when_its_own_partitions_are_cut_past_its_end_or_at_most_later() -> None:
    """Every file delivered before the end is on ``delivered`` once the writers' marks for
    the chain's partitions pass the end; another partition being ahead is not enough,
    and with no marks at all the window waits ``final_wait`` past its end."""
    w = windows(final_wait=dt.timedelta(minutes=10))
    states = {CHAIN: state_ending(T0)}
    w.track(CHAIN, states[CHAIN])
    ahead = int((T0 + 2 * HOUR).timestamp() * 1000)
    behind = int((T0 + dt.timedelta(minutes=30)).timestamp() * 1000)
    assert w.watermark(ahead, lambda chain: behind, states) == []  # ours lags
    assert w.due(T0 + HOUR + GRACE, states) == []
    assert marks(w, T0 + HOUR, states) == [CHAIN]
    (m,) = w.due(T0 + HOUR + GRACE, states)
    assert (m.kind, m.window.end) == ("regular", T0 + HOUR)
    w2 = windows(final_wait=dt.timedelta(minutes=10))
    w2.track(CHAIN, states[CHAIN])
    assert w2.due(T0 + HOUR + dt.timedelta(minutes=9), states) == []
    (late,) = w2.due(T0 + HOUR + dt.timedelta(minutes=10), states)  # the upper bound
    assert late.window.end == T0 + HOUR


def test_a_window_ending_in_the_stops_second_is_the_final_one() -> None:
    """Digest times have whole seconds: a stop 100 ms after a window's end makes that
    window the final digest, ending at the stop's second, not a 1-second final after it."""
    w = windows()
    states = {CHAIN: state_ending(T0)}
    w.track(CHAIN, states[CHAIN])
    stopped = T0 + HOUR + dt.timedelta(milliseconds=100)
    w.end(CHAIN, stopped, states[CHAIN])
    (m,) = w.due(stopped + GRACE, states)
    assert (m.final, m.window.start, m.window.end) == (True, T0, T0 + HOUR)


def test_a_chain_started_by_start_logging_keeps_its_start_when_it_ends_again() -> None:
    w = windows(final_wait=dt.timedelta(minutes=10))
    stop = T0 + dt.timedelta(minutes=20)
    ended = ChainState(CHAIN, None, ended=iso(stop), offset=2)
    w.track(CHAIN, ended)
    start = stop + dt.timedelta(seconds=20)
    w.resume(CHAIN, start, ended)
    w.add(3, manifest("first", start + dt.timedelta(seconds=7)), ended)
    stop2 = start + dt.timedelta(seconds=17)
    w.end(CHAIN, stop2, ended)
    marks(w, stop2 + dt.timedelta(seconds=5), {CHAIN: ended})
    (f,) = w.due(stop2 + dt.timedelta(seconds=5), {CHAIN: ended})
    assert (f.final, f.window.start, f.window.end, f.first_offset) == (True, start, stop2, 3)


def test_a_chain_start_logging_began_takes_its_first_file_read_after_it_stopped_again() -> None:
    """The digester asks the chain, not the trail's state now, whether a file belongs in
    a digest: StartLogging opened a chain, the trail stopped again before the chain's
    first file was read, and that file is still the new chain's (its final digest lists
    it). Before the StartLogging and after that final digest, nothing is open."""
    w = windows(final_wait=dt.timedelta(minutes=10))
    stop = T0 + dt.timedelta(minutes=20)
    ended = ChainState(CHAIN, None, ended=iso(stop), offset=2)
    w.track(CHAIN, ended)
    assert not w.is_open(CHAIN)  # its final digest is written; nothing began since
    start = stop + dt.timedelta(seconds=20)
    w.resume(CHAIN, start, ended)
    stop2 = start + dt.timedelta(seconds=10)
    w.end(CHAIN, stop2, ended)
    assert w.is_open(CHAIN)  # no file read yet, and its final digest is to come
    first = manifest(
        "first", stop2 - dt.timedelta(seconds=1), oldest=start + dt.timedelta(seconds=1)
    )
    assert w.add(3, first, ended)
    marks(w, stop2 + dt.timedelta(seconds=5), {CHAIN: ended})
    (f,) = w.due(stop2 + dt.timedelta(seconds=5), {CHAIN: ended})
    assert (f.final, f.window.start, f.window.end, f.first_offset) == (True, start, stop2, 3)
    closed = w.on_marker(4, f, ended)
    assert closed is not None and [m.key for m in closed.files] == ["first"]
    w.written(closed, ChainState(CHAIN, None, ended=iso(stop2), offset=4))
    assert not w.is_open(CHAIN)


def test_a_start_logging_during_the_final_wait_keeps_the_chain_open() -> None:
    """Stopped, started again before the old chain's final digest: the new period's
    files are the next chain's even when the trail has stopped again by the time they
    are read."""
    w = windows(final_wait=dt.timedelta(minutes=10))
    states = {CHAIN: state_ending(T0)}
    w.track(CHAIN, states[CHAIN])
    t1 = T0 + dt.timedelta(minutes=20)
    w.end(CHAIN, t1, states[CHAIN])
    w.resume(CHAIN, t1 + dt.timedelta(seconds=20), states[CHAIN])
    assert w.is_open(CHAIN)
