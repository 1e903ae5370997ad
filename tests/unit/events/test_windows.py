"""Intervals close by event time: a delay in delivery fills intervals late, it never
closes them empty (recorder.events.windows)."""

from __future__ import annotations

from recorder.events.windows import Watermark, interval_of

T0 = 1_764_547_200.0  # 2025-12-01T00:00:00Z


def test_intervals_of_event_time() -> None:
    assert interval_of(T0, 60) == interval_of(T0 + 59.999, 60) == int(T0 // 60)
    assert interval_of(T0 + 60, 60) == int(T0 // 60) + 1


def test_events_move_the_watermark_and_close_intervals_lateness_after_their_end() -> None:
    w = Watermark(lateness=60, grace=0)
    w.tick(T0, connected=True, caught_up=False)
    assert w.closed_through(60) is None  # nothing read yet, and behind: nothing closes
    w.observe(T0 + 119)
    w.tick(T0 + 119, connected=True, caught_up=False)
    assert w.closed_through(60) == interval_of(T0, 60) - 1  # T0's minute waits for T0+120
    w.observe(T0 + 120)
    w.tick(T0 + 120, connected=True, caught_up=False)
    assert w.closed_through(60) == interval_of(T0, 60)


def test_a_quiet_stream_closes_on_the_clock_only_while_live() -> None:
    w = Watermark(lateness=60, grace=30)
    w.observe(T0)
    for t in range(0, 300, 5):  # connected, at the end, no call: the clock moves it
        w.tick(T0 + t, connected=True, caught_up=True)
    assert w.value == T0 + 295 - 60


def test_a_broker_pause_closes_nothing_until_the_held_back_calls_arrived() -> None:
    """Steady calls, then the broker pauses for 90 s: while it is away, and for the
    grace after it is back, no interval closes; the calls made meanwhile arrive and
    fill their intervals."""
    w = Watermark(lateness=60, grace=60)
    t = T0
    while t < T0 + 600:  # steady traffic, live
        w.observe(t)
        w.tick(t, connected=True, caught_up=True)
        t += 1
    before = w.value
    assert before == T0 + 599 - 60
    for s in range(90):  # the pause: no fetch answered
        w.tick(t + s, connected=False, caught_up=False)
    assert w.value == before
    back = t + 90
    for s in range(60):  # back: the backlog and the journals arrive, oldest first
        for held in range(int(t) + s * 2, int(t) + s * 2 + 2):
            w.observe(min(held, back + s))
        w.tick(back + s, connected=True, caught_up=s > 5)
        assert w.value == before  # the grace: nothing closes yet
    w.tick(back + 60, connected=True, caught_up=True)
    assert w.value is not None and w.value > before


def test_it_never_moves_back() -> None:
    w = Watermark(lateness=10, grace=0)
    w.observe(T0 + 100)
    w.tick(T0 + 100, connected=True, caught_up=True)
    w.observe(T0 + 50)  # an old call read later
    w.tick(T0 + 101, connected=True, caught_up=False)
    assert w.value == T0 + 90


def test_a_restarted_stage_resumes_from_its_record_and_waits_its_grace() -> None:
    w = Watermark(lateness=10, grace=20)
    w.observe(T0)
    w.tick(T0, connected=True, caught_up=True)
    w.tick(T0 + 20, connected=True, caught_up=True)
    saved = w.to_json()
    again = Watermark.from_json(10, 20, saved)
    assert again.value == w.value
    again.observe(T0 + 100)
    again.tick(T0 + 100, connected=True, caught_up=True)
    assert again.value == w.value  # just started: the grace first


def test_a_stage_held_up_past_the_gap_counts_it_as_a_break() -> None:
    """The stage's own loop stood still (a request to a paused broker): on its next tick
    the broker answers again, but what was held back meanwhile is still to come."""
    w = Watermark(lateness=6, grace=8, max_gap=5)
    for t in range(30):
        w.observe(T0 + t)
        w.tick(T0 + t, connected=True, caught_up=True)
    before = w.value
    w.tick(T0 + 50, connected=True, caught_up=True)  # 21 s without a tick
    assert w.value == before
    for t in range(51, 58):
        w.tick(T0 + t, connected=True, caught_up=True)
        assert w.value == before  # the grace after the break
    w.tick(T0 + 58, connected=True, caught_up=True)
    assert w.value == T0 + 52
