"""Progress marks through the pipeline: what each stage may vouch for, and when."""

from __future__ import annotations

import pytest

from recorder.kafka.watermarks import (
    WATERMARK_HEADER,
    CutMarks,
    Mark,
    RoutedProgress,
    RoutedUntil,
    SourceProgress,
    is_watermark,
)


def test_marks_round_trip_and_bad_ones_are_refused() -> None:
    mark = Mark({0: 1_000, 3: 2_000}, 4)
    assert Mark.from_bytes(mark.to_bytes()) == mark
    assert is_watermark([(WATERMARK_HEADER, b"1")]) and not is_watermark(None)
    for bad in (b'{"n": 2, "t": {"5": 1}}', b'{"t": {}}', b'{"n": 0, "t": {}}', b"[]"):
        with pytest.raises(ValueError):
            Mark.from_bytes(bad)


def test_a_router_vouches_for_a_fetch_time_once_it_routed_below_its_high_watermark() -> None:
    p = SourceProgress()
    assert p.routed(0) is None
    p.sample(highwater=10, at_ms=1_000)  # the broker had 10 records at 1.000 s
    p.sample(highwater=10, at_ms=1_000)  # no new fetch: not sampled again
    p.sample(highwater=25, at_ms=2_000)
    assert p.routed(9) is None  # record 9 is not routed yet
    assert p.routed(10) == 1_000
    assert p.routed(24) == 1_000
    assert p.routed(25) == 2_000
    p.sample(None, None)  # no fetch yet for a new assignment: nothing
    assert p.routed(30) == 2_000  # never goes back


def test_a_writer_vouches_for_the_least_router_mark_once_everything_before_it_is_delivered() -> (
    None
):
    r = RoutedProgress()
    r.on_mark(offset=5, mark=Mark({0: 1_000}, 2))  # api-events partition 1 has no mark yet
    assert r.cut(100) is None
    r.on_mark(offset=7, mark=Mark({1: 1_500}, 2))  # least of (1000, 1500)
    r.on_mark(offset=9, mark=Mark({0: 3_000}, 2))  # least of (3000, 1500): no progress
    r.on_mark(offset=12, mark=Mark({1: 4_000}, 2))  # least 3000
    assert r.cut(7) is None  # an open batch starts at 7: the mark at 7 is not vouched for
    assert r.cut(8) == 1_000
    assert r.cut(13) == 3_000


def test_the_digester_waits_for_every_partition_of_the_chain() -> None:
    marks = CutMarks()
    marks.on_mark(Mark({0: 5_000, 1: 9_000}, 4))
    marks.on_mark(Mark({0: 4_000}, 4))  # an older mark from another writer: kept the newer
    assert marks.routed_count == 4
    assert marks.passed([0, 1], 5_000)
    assert not marks.passed([0, 1], 6_000)
    assert not marks.passed([2], 0)  # no mark at all for partition 2


def test_routed_until_is_the_least_mark_once_every_api_events_partition_has_one() -> None:
    r = RoutedUntil()
    assert r.until() is None
    r.on_mark(Mark({0: 5_000}, 3))  # one router owns partition 0
    r.on_mark(Mark({2: 7_000}, 3))  # another owns 2; nobody has marked 1 yet
    assert r.until() is None
    r.on_mark(Mark({1: 6_000, 2: 6_500}, 3))  # an older mark for 2 does not move it back
    assert r.sources == {0: 5_000, 1: 6_000, 2: 7_000}
    assert r.until() == 5_000
    r.on_mark(Mark({0: 9_000}, 3))
    assert r.until() == 6_000
    # a restarted stage resumes from the marks its state recorded
    assert RoutedUntil.from_json(r.to_json()) == r
    assert RoutedUntil.from_json(None) == RoutedUntil() and RoutedUntil().until() is None
