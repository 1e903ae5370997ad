"""Pause reasons and poll pacing, against a consumer that keeps aiokafka's paused flags.

The stand-in keeps exactly what aiokafka keeps: one paused flag per assigned
partition, ``pause`` and ``resume`` of assigned partitions only, records handed out
by ``getmany`` only for partitions that are not paused, and the time a fetch of a
partition last came back (``last_poll_timestamp``, set by every fetch response, empty
or not). A ``getmany`` that finds records stands for one fetch round trip of the
partitions it polls that are not paused; one with nothing to hand out waits its
time-out, during which aiokafka fetches again as soon as each empty answer is back
(noida-db answers one every ``ROUND_TRIP_MS``). Partitions in ``silent`` never
answer (a fetch still in flight: a broker that holds it, or a slow one).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from aiokafka import TopicPartition

from recorder.kafka.pacing import BUDGET, HANDOVER, LINGER, Pacer, Pauses

P0, P1, P2 = (TopicPartition("routed", p) for p in range(3))
ROUND_TRIP_MS = 0.5


class Record(int):
    """A record that is its own offset."""

    @property
    def offset(self) -> int:
        return int(self)


class Consumer:
    def __init__(self, *assigned: TopicPartition) -> None:
        self.assigned = set(assigned)
        self._paused: set[TopicPartition] = set()
        self.waiting: dict[TopicPartition, list[int]] = {}
        # high watermarks the fetches saw (default 0: fetched, nothing beyond what was
        # handed out; None: no fetch has come back yet)
        self.ends: dict[TopicPartition, int | None] = {}
        self.polls: list[frozenset[TopicPartition]] = []  # what was unpaused at each poll
        self.answered_at: dict[TopicPartition, int] = {}  # epoch ms of the last fetch back
        self.silent: set[TopicPartition] = set()  # fetches that do not come back
        self.fetches = 0  # fetch requests sent

    def last_poll_timestamp(self, tp: TopicPartition) -> int | None:
        if tp not in self.assigned:
            raise AssertionError("aiokafka asserts the partition is assigned")
        return self.answered_at.get(tp)

    def highwater(self, tp: TopicPartition) -> int | None:
        if tp not in self.assigned:
            raise AssertionError("aiokafka asserts the partition is assigned")
        return self.ends.get(tp, 0)

    def paused(self) -> set[TopicPartition]:
        return set(self._paused)

    def assignment(self) -> set[TopicPartition]:
        return set(self.assigned)

    def pause(self, *tps: TopicPartition) -> None:
        for tp in tps:
            if tp not in self.assigned:
                raise AssertionError(f"aiokafka refuses to pause unassigned {tp}")
        self._paused.update(tps)

    def resume(self, *tps: TopicPartition) -> None:
        for tp in tps:
            if tp not in self.assigned:
                raise AssertionError(f"aiokafka refuses to resume unassigned {tp}")
        self._paused.difference_update(tps)

    async def getmany(
        self, *tps: TopicPartition, timeout_ms: int, max_records: int
    ) -> dict[TopicPartition, list[Any]]:
        if not all(isinstance(tp, TopicPartition) for tp in tps):
            raise AssertionError("aiokafka's getmany takes TopicPartitions only")
        wanted = set(tps) or self.assigned
        self.polls.append(frozenset(wanted - self._paused))
        out: dict[TopicPartition, list[Any]] = {}
        left = max_records
        for tp in sorted(wanted - self._paused):
            records = self.waiting.get(tp, [])
            take, self.waiting[tp] = records[:left], records[left:]
            if take:
                out[tp] = [Record(r) for r in take]
                left -= len(take)
        self.fetches += 1 if out else max(1, int(timeout_ms / ROUND_TRIP_MS))
        if not out:
            await asyncio.sleep(timeout_ms / 1000)
        now_ms = int(time.time() * 1000)
        for tp in wanted - self._paused - self.silent:
            self.answered_at[tp] = now_ms
        return out


def test_a_partition_runs_again_only_when_no_reason_holds_it() -> None:
    consumer = Consumer(P0, P1)
    pauses = Pauses(consumer)
    pauses.hold(HANDOVER, [P0])
    pauses.hold(LINGER, [P0, P1])
    assert consumer.paused() == {P0, P1}
    pauses.release(LINGER)
    # the hand-over still holds P0: a record read now would have no state
    assert consumer.paused() == {P0}
    pauses.release(HANDOVER, [P0])
    assert consumer.paused() == set()


def test_only_assigned_partitions_are_held_and_a_forgotten_one_starts_free() -> None:
    consumer = Consumer(P0)
    pauses = Pauses(consumer)
    assert pauses.hold(BUDGET, [P0, P2]) == [P0]
    assert pauses.held(BUDGET) == {P0}
    consumer.assigned.discard(P0)  # revoked
    pauses.forget([P0])
    assert pauses.held(BUDGET) == set()
    pauses.release(BUDGET)  # nothing held, nothing resumed (no error on unassigned)


def test_releasing_a_reason_never_held_resumes_nothing() -> None:
    consumer = Consumer(P0)
    pauses = Pauses(consumer)
    pauses.hold(BUDGET, [P0])
    pauses.release(LINGER, [P0])
    assert consumer.paused() == {P0}


async def test_a_short_poll_holds_the_partitions_until_the_next_poll() -> None:
    consumer = Consumer(P0, P1)
    consumer.waiting = {P0: [1, 2, 3]}
    pacer = Pacer(consumer, Pauses(consumer), linger=0.01, max_records=100)
    got = await pacer.poll()
    assert got == {P0: [1, 2, 3]}
    assert consumer.paused() == {P0, P1}  # no fetch while records gather
    consumer.waiting = {P0: [4], P1: [5]}
    got = await pacer.poll()
    assert consumer.polls[-1] == {P0, P1}  # released before the poll
    assert got == {P0: [4], P1: [5]}


async def test_a_short_poll_behind_the_partitions_end_reads_on_without_a_hold() -> None:
    """Catching up on a backlog, aiokafka hands out a fetch's worth at a time."""
    consumer = Consumer(P0, P1)
    consumer.waiting = {P0: [7, 8, 9]}
    consumer.ends = {P0: 5000, P1: 0}
    pacer = Pacer(consumer, Pauses(consumer), linger=5.0, max_records=100)
    assert await pacer.poll() == {P0: [7, 8, 9]}
    assert consumer.paused() == set()
    consumer.waiting = {P0: [10, 11]}
    consumer.ends = {P0: 12, P1: 0}  # caught up: now the hold
    assert await pacer.poll() == {P0: [10, 11]}
    assert consumer.paused() == {P0, P1}


async def test_an_empty_poll_before_the_first_fetch_holds_only_briefly() -> None:
    """Just after an assignment the first poll is empty because nothing was fetched
    yet, not because nothing is there: a full linger would delay every start."""
    consumer = Consumer(P0)
    consumer.ends = {P0: None}
    pacer = Pacer(consumer, Pauses(consumer), linger=10.0, max_records=100)
    await pacer.poll()
    assert consumer.paused() == {P0}
    consumer.ends = {P0: 3}
    consumer.waiting = {P0: [0, 1, 2]}
    assert await pacer.poll() == {P0: [0, 1, 2]}  # within 0.5 s, not 10: else a timeout


async def test_a_full_poll_reads_on_without_a_hold() -> None:
    consumer = Consumer(P0)
    consumer.waiting = {P0: list(range(250))}
    pacer = Pacer(consumer, Pauses(consumer), linger=5.0, max_records=100)
    assert len((await pacer.poll())[P0]) == 100
    assert consumer.paused() == set()
    assert len((await pacer.poll())[P0]) == 100  # no 5 s wait: the test would time out


def test_the_hold_fills_half_a_batch_at_the_recent_rate_within_bounds() -> None:
    consumer = Consumer(P0)
    pacer = Pacer(consumer, Pauses(consumer), linger=0.5, max_records=2000)
    assert pacer.hold_after(0, now=100.0) == 0.5  # nothing yet: the longest hold
    # 250 records in the 0.5 s since: 500/s, so 1,000 records take 2 s: capped
    assert pacer.hold_after(250, now=100.5) == 0.5
    assert pacer.rate == 500.0
    # 1,900 records in 0.25 s: 7,600/s, smoothed with 500/s to 4,050/s
    assert pacer.hold_after(1900, now=100.75) == pytest.approx(1000 / 4050)
    # a flood (smoothed to 505,000/s) would hold 2 ms: never below 5 % of the linger
    pacer.rate = 1_000_000.0
    assert pacer.hold_after(1000, now=100.85) == pytest.approx(0.025)


def test_an_empty_poll_of_a_busy_stage_doubles_the_hold_up_to_the_linger() -> None:
    """A busy stage's poll may come back empty only because its fetch was slow: the
    hold grows with each empty poll instead of jumping to the linger, and a stage that
    stays idle gets there after a few polls."""
    consumer = Consumer(P0)
    pacer = Pacer(consumer, Pauses(consumer), linger=2.0, max_records=5000)
    pacer.hold_after(0, now=100.0)
    assert pacer.hold_after(2000, now=100.2) == pytest.approx(2500 / 10_000)  # 10,000/s
    holds = [pacer.hold_after(0, now=100.2 + 0.01 * i) for i in range(1, 7)]
    assert holds[0] == pytest.approx(0.5)  # 5,000/s: twice the hold, not 2 s
    assert holds[1] == pytest.approx(1.0)
    assert holds[2:] == [2.0, 2.0, 2.0, 2.0]  # idle: the linger
    assert pacer.hold_after(2000, now=100.5) < 1.0  # records again: shorter at once


async def test_an_empty_poll_holds_for_the_linger() -> None:
    consumer = Consumer(P0)
    pacer = Pacer(consumer, Pauses(consumer), linger=0.01, max_records=10)
    await pacer.poll()
    assert consumer.paused() == {P0}
    await pacer.poll()
    assert consumer.polls[-1] == {P0}  # released before the poll


async def test_a_hold_never_releases_a_hand_over_pause() -> None:
    consumer = Consumer(P0, P1)
    pauses = Pauses(consumer)
    pacer = Pacer(consumer, pauses, linger=0.001, max_records=10)
    await pacer.poll()
    pauses.hold(HANDOVER, [P1])  # a rebalance while the pacer holds
    consumer.waiting = {P0: [1], P1: [2]}
    got = await pacer.poll()
    assert got == {P0: [1]}
    assert P1 in consumer.paused()


async def test_wake_ends_the_hold_at_once() -> None:
    consumer = Consumer(P0)
    pacer = Pacer(consumer, Pauses(consumer), linger=60.0, max_records=10)
    await pacer.poll(P0)
    assert consumer.paused() == {P0}
    pacer.wake()
    assert consumer.paused() == set()
    consumer.waiting = {P0: [7]}
    assert await pacer.poll(P0) == {P0: [7]}  # no 60 s hold: the test would time out


async def test_until_ends_the_hold_then() -> None:
    """The writer's next cut is due before the hold would end: the poll comes then."""
    consumer = Consumer(P0)
    pacer = Pacer(consumer, Pauses(consumer), linger=60.0, max_records=10)
    await pacer.poll(P0)
    assert consumer.paused() == {P0}  # held for the linger
    consumer.waiting = {P0: [3]}
    began = time.monotonic()
    got = await pacer.poll(P0, until=began + 0.05)
    assert got == {P0: [3]}
    assert 0.04 <= time.monotonic() - began < 5  # not at once, and no 60 s hold


async def test_until_after_the_hold_changes_nothing() -> None:
    consumer = Consumer(P0)
    pacer = Pacer(consumer, Pauses(consumer), linger=0.05, max_records=10)
    await pacer.poll(P0)
    began = time.monotonic()
    await pacer.poll(P0, until=began + 60)
    assert time.monotonic() - began < 5  # the 50 ms hold, not the 60 s


async def test_linger_zero_polls_like_plain_getmany() -> None:
    consumer = Consumer(P0)
    pacer = Pacer(consumer, Pauses(consumer), linger=0.0, max_records=10)
    await pacer.poll()
    assert consumer.paused() == set()


async def test_with_every_partition_held_for_another_reason_the_pacer_still_waits() -> None:
    consumer = Consumer(P0)
    pauses = Pauses(consumer)
    pacer = Pacer(consumer, pauses, linger=0.2, max_records=10)
    pauses.hold(BUDGET, [P0])
    await pacer.poll()
    started = asyncio.get_running_loop().time()
    await pacer.poll()  # not at once: the buffer budget may last, polling would spin
    assert asyncio.get_running_loop().time() - started >= 0.15
    assert consumer.paused() == {P0}
    assert pauses.held(LINGER) == set()  # the budget's pause alone


async def test_an_idle_poll_ends_when_the_fetches_come_back_empty() -> None:
    """A broker that answers an empty fetch at once is asked again at once by aiokafka:
    a poll that waited out its whole window sent about ten fetches. The poll ends with
    the first answer for every polled partition, then holds."""
    consumer = Consumer(P0, P1)
    pacer = Pacer(consumer, Pauses(consumer), linger=0.01, max_records=10)
    assert await pacer.poll() == {}
    assert consumer.polls == [{P0, P1}]
    assert consumer.fetches == 2  # a millisecond's worth, not the window's ten
    assert consumer.paused() == {P0, P1}


async def test_a_poll_waits_for_a_partition_whose_fetch_is_still_out() -> None:
    """A fetch the broker still holds may bring records: the poll keeps looking until
    it is back or the window ends, and takes what comes meanwhile."""
    consumer = Consumer(P0, P1)
    consumer.silent = {P1}
    pacer = Pacer(consumer, Pauses(consumer), linger=0.01, max_records=10)
    assert await pacer.poll() == {}  # P1 never answered: the whole window, then a hold
    assert len(consumer.polls) > 1
    assert consumer.paused() == {P0, P1}

    consumer.polls.clear()
    original = consumer.getmany

    async def records_on_the_second_look(*tps: TopicPartition, **kw: Any) -> Any:
        if len(consumer.polls) == 1:
            consumer.waiting = {P1: [4, 5]}
        return await original(*tps, **kw)

    consumer.getmany = records_on_the_second_look  # type: ignore[method-assign]
    assert await pacer.poll() == {P1: [4, 5]}
    assert len(consumer.polls) == 2
