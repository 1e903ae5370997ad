"""The writer's dedupe window keeps the last N pairs and forgets the oldest first."""

from __future__ import annotations

from recorder.delivery.window import SeenWindow

DEST_A = b"arn:aws:cloudtrail:us-east-2:111111111111:trail/a|111111111111|us-east-2|"
DEST_B = b"arn:aws:cloudtrail:us-east-2:222222222222:trail/b|222222222222|us-east-2|"


def test_a_repeated_pair_is_refused_and_another_destination_is_not() -> None:
    w = SeenWindow(10)
    assert w.add((DEST_A, b"e-1")) is True
    assert w.add((DEST_A, b"e-1")) is False
    assert (DEST_A, b"e-1") in w
    # the same event for another destination is that destination's first copy
    assert w.add((DEST_B, b"e-1")) is True
    assert len(w) == 2


def test_the_oldest_pair_is_forgotten_past_the_size() -> None:
    w = SeenWindow(3)
    for i in range(4):
        assert w.add((DEST_A, f"e-{i}".encode()))
    assert len(w) == 3
    assert (DEST_A, b"e-0") not in w  # evicted: a repeat this late is delivered again
    assert [(DEST_A, f"e-{i}".encode()) in w for i in (1, 2, 3)] == [True, True, True]
    assert w.add((DEST_A, b"e-0")) is True
    assert (DEST_A, b"e-1") not in w


def test_key_and_event_id_boundaries_do_not_collide() -> None:
    w = SeenWindow(10)
    assert w.add((b"ab", b"c"))
    assert w.add((b"a", b"bc"))  # the separator keeps the two apart
