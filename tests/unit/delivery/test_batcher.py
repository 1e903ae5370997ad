"""Cut rules and the replay guarantee of the partition batcher (DESIGN.md)."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from recorder.delivery.batcher import Batch, CutMarker, PartitionBatcher, Routed
from recorder.trails.destination import Destination

A = Destination("arn:aws:cloudtrail:us-east-1:111111111111:trail/a", "111111111111", "us-east-1")
B = Destination("arn:aws:cloudtrail:us-east-1:222222222222:trail/b", "222222222222", "us-east-1")


def batcher(start: int = 0, caught_up_at: int = 0, **kw: int) -> PartitionBatcher:
    kw.setdefault("max_records", 1000)
    kw.setdefault("max_bytes", 1 << 30)
    return PartitionBatcher(0, start, caught_up_at=caught_up_at, **kw)


def marker(req, cut_time: str = "2026-11-25T06:00:00Z") -> CutMarker:
    return CutMarker(req.destination, req.first_offset, req.last_offset, cut_time, req.reason)


def test_interval_cut_takes_exactly_the_named_records() -> None:
    b = batcher()
    b.add(0, A, Routed(b"a0"), now=0.0)
    b.add(1, B, Routed(b"b1"), now=0.0)
    b.add(2, A, Routed(b"a2"), now=0.0)
    assert b.due(now=10.0, interval=300) == []
    reqs = b.due(now=301.0, interval=300)
    assert [(r.destination, r.first_offset, r.last_offset, r.reason) for r in reqs] == [
        (A, 0, 2, "interval"),
        (B, 1, 1, "interval"),
    ]
    # one outstanding request per destination
    assert b.due(now=999.0, interval=300) == []
    b.add(3, A, Routed(b"a3"), now=301.0)  # arrives before the marker: belongs to the next file
    batch = b.on_marker(4, marker(reqs[0]))
    assert batch is not None
    assert batch.records == [(0, Routed(b"a0")), (2, Routed(b"a2"))]
    assert b.committable() == 0  # batch not yet in S3
    b.delivered(batch)
    assert b.committable() == 1  # B's record 1 still open
    batch_b = b.on_marker(5, marker(reqs[1]))
    assert batch_b is not None
    b.delivered(batch_b)
    assert b.committable() == 3  # A's record 3 opened the next batch


def test_next_interval_starts_at_the_cut_request() -> None:
    b = batcher()
    b.add(0, A, Routed(b"a0"), now=0.0)
    (req,) = b.due(now=300.0, interval=300)
    b.add(1, A, Routed(b"a1"), now=301.0)  # after the request, before the marker
    assert b.on_marker(2, marker(req)) is not None
    assert b.due(now=302.0, interval=300) == []  # not cut again at once
    (nxt,) = b.due(now=600.0, interval=300)
    assert (nxt.first_offset, nxt.last_offset) == (1, 1)


def test_next_due_is_when_due_first_cuts() -> None:
    """The writer holds its polls no longer than this: it must be the time at which
    ``due`` asks for the earliest cut, and None while nothing waits on the clock."""
    b = batcher(caught_up_at=2)
    assert b.next_due(interval=300) is None  # nothing open
    b.add(0, A, Routed(b"a0"), now=10.0)
    assert b.next_due(interval=300) is None  # not caught up: due() cuts nothing yet
    b.add(1, B, Routed(b"b1"), now=40.0)
    assert b.next_due(interval=300) == 310.0  # A's interval ends first
    assert b.due(now=309.9, interval=300) == []
    (req,) = b.due(now=310.0, interval=300)
    assert req.destination == A
    assert b.next_due(interval=300) == 340.0  # A asked for: B's is next
    b.add(2, A, Routed(b"a2"), now=311.0)  # after the request: the next file's, from 310
    assert b.on_marker(3, marker(req)) is not None
    assert b.next_due(interval=300) == 340.0
    (req_b,) = b.due(now=340.0, interval=300)
    assert b.next_due(interval=300) == 610.0  # A's next file, opened at its request
    assert b.on_marker(4, marker(req_b)) is not None
    assert b.next_due(interval=300) == 610.0


def test_size_bound_cuts_at_max_records() -> None:
    b = batcher(max_records=3)
    for i in range(5):
        b.add(i, A, Routed(b"x"), now=0.0)
    (req,) = b.due(now=0.0, interval=300)
    assert (req.first_offset, req.last_offset, req.reason) == (0, 2, "size")
    batch = b.on_marker(5, marker(req))
    assert batch is not None and len(batch.records) == 3


def test_no_cut_requests_before_caught_up() -> None:
    b = batcher(start=0, caught_up_at=10)
    b.add(0, A, Routed(b"x"), now=0.0)
    assert b.due(now=1000.0, interval=1) == []
    b.skip(9)
    assert len(b.due(now=1000.0, interval=1)) == 1


def test_marker_for_batch_before_start_drops_delivered_records() -> None:
    # Commit was 8: A's batch 5..10 was delivered (it began before the commit).
    b = batcher(start=8)
    for o in (8, 9, 10, 12):
        b.add(o, A, Routed(b"x"), now=0.0)
    assert b.on_marker(11, CutMarker(A, 5, 10, "2026-11-25T06:00:00Z")) is None
    assert b.committable() == 12


def test_flush_requests_every_open_destination() -> None:
    b = batcher()
    b.add(0, A, Routed(b"x"), now=0.0)
    b.add(1, B, Routed(b"y"), now=0.0)
    reqs = b.due(now=0.0, interval=300, flush=True)
    assert {r.reason for r in reqs} == {"shutdown"}
    assert len(reqs) == 2


def _simulate(ops: list[tuple[str, int]], crash_points: list[int], max_records: int) -> list[Batch]:
    """Run a log of records/markers; crash and replay from the committed offset.

    Returns every batch written (a replayed batch may be written twice; the object
    key is its seed, so identical seeds must have identical records).
    """
    dests = [A, B]
    log: list[tuple[str, object]] = []  # the partition, grown as we go
    written: list[Batch] = []
    committed = 0
    clock = 0.0

    def run_instance(start: int, stop_after: int | None) -> int:
        nonlocal clock
        b = batcher(start=start, caught_up_at=len(log), max_records=max_records)
        pos = start
        steps = 0
        commit = start
        pending: list[Batch] = []

        def crash_now() -> bool:
            # a crash may hit between any two phases: after producing markers but
            # before reading them, after reading before writing, after writing
            # before committing
            nonlocal steps
            steps += 1
            return stop_after is not None and steps >= stop_after

        while True:
            if crash_now():
                return commit
            while pos < len(log):
                kind, payload = log[pos]
                if kind == "rec":
                    dest, value = payload  # type: ignore[misc]
                    b.add(pos, dest, value, now=clock)
                else:
                    batch = b.on_marker(pos, payload)  # type: ignore[arg-type]
                    if batch is not None:
                        pending.append(batch)
                pos += 1
            if crash_now():
                return commit
            for batch in pending:
                written.append(batch)
                b.delivered(batch)
            pending.clear()
            if crash_now():
                return commit
            commit = b.committable()
            op = ops_remaining[0] if ops_remaining else None
            if op is None:
                # drain: flush everything
                reqs = b.due(now=clock, interval=1, flush=True)
                if not reqs and b.idle():
                    return b.committable()
                for r in reqs:
                    log.append(
                        (
                            "mark",
                            CutMarker(r.destination, r.first_offset, r.last_offset, f"t{len(log)}"),
                        )
                    )
                continue
            ops_remaining.pop(0)
            kind, n = op
            if kind == "rec":
                log.append(("rec", (dests[n % 2], Routed(f"v{len(log)}".encode()))))
            else:
                clock += n
                for r in b.due(now=clock, interval=5):
                    log.append(
                        (
                            "mark",
                            CutMarker(r.destination, r.first_offset, r.last_offset, f"t{len(log)}"),
                        )
                    )

    ops_remaining = list(ops)
    for crash in crash_points:
        committed = run_instance(committed, crash)
    run_instance(committed, None)
    return written


@settings(max_examples=300, deadline=None)
@given(
    ops=st.lists(
        st.one_of(
            st.tuples(st.just("rec"), st.integers(0, 1)),
            st.tuples(st.just("tick"), st.integers(1, 6)),
        ),
        min_size=1,
        max_size=60,
    ),
    crash_points=st.lists(st.integers(1, 20), max_size=5),
    max_records=st.integers(1, 6),
)
def test_every_record_in_exactly_one_file_across_crashes(ops, crash_points, max_records) -> None:
    written = _simulate(ops, crash_points, max_records)
    by_seed: dict[str, list[tuple[int, Routed]]] = {}
    for batch in written:
        if batch.seed in by_seed:
            # a replayed cut must be the same file, byte for byte
            assert by_seed[batch.seed] == batch.records
        by_seed[batch.seed] = batch.records
        assert len(batch.records) <= max_records
    seen = [o for recs in by_seed.values() for o, _ in recs]
    assert len(seen) == len(set(seen)), "a record landed in two different files"
    n_records = sum(1 for kind, _ in ops if kind == "rec")
    assert len(seen) == n_records, "a record was lost"


def test_simulation_detects_loss() -> None:
    """The property test's harness can fail: a batcher that forgets is caught."""
    rng = random.Random(1)
    ops = [("rec", rng.randint(0, 1)) for _ in range(10)] + [("tick", 6)]
    written = _simulate(ops, [], 3)
    assert sum(len(b.records) for b in written) == 10


def test_same_offsets_with_other_events_get_another_key_seed() -> None:
    """A broker that lost records and reuses their offsets must not make a new batch
    overwrite a delivered file: the seed differs when the first event differs."""
    t = "2026-11-25T06:00:00Z"
    delivered = Batch(A, 0, [(900, Routed(b"x", t, "event-before-the-loss"))], t)
    reissued = Batch(A, 0, [(900, Routed(b"y", t, "event-after-the-loss"))], t)
    replayed = Batch(A, 0, [(900, Routed(b"x", t, "event-before-the-loss"))], t)
    assert delivered.seed != reissued.seed
    assert delivered.seed == replayed.seed
