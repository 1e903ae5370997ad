"""Who holds a partition paused, and poll pacing built on it.

aiokafka keeps one paused flag per partition, while several parts of a service pause
for reasons of their own: a hand-over in progress (:class:`~recorder.kafka.clients.
HandOver`), the writer's buffer budget, and poll pacing. :class:`Pauses` counts the
reasons, so none of them resumes a partition another still holds (a record polled
during a hand-over would be read without its state).

:class:`Pacer` makes a poll worth its fixed costs. Every poll a stage makes has a
cost that does not depend on how many records it brings: the router's transaction
or commit, the writer's cut and budget checks, and above all the fetch requests
behind it. A consumer that polls again as soon as one record is there pays those
costs per handful of events, and the fewer events each process sees (the more
processes share the partitions), the more it pays per event. A Kafka broker holds
a fetch for ``fetch_max_wait_ms`` until ``fetch_min_bytes`` arrive; some brokers
(noida-db) answer every fetch at once, so an idle or lightly loaded consumer asks
hundreds of times a second.

After a poll that brought less than a full batch and left nothing more at the broker
(a consumer catching up on a backlog gets one fetch's worth at a time, and reads on;
one whose partitions have not been fetched yet holds only briefly), the pacer pauses
the consumer's partitions while records gather at the broker (no fetch is sent
meanwhile), for as long as the consumer's recent rate needs to fill half a batch,
and never longer than ``linger`` (the longest hold; also the hold after an empty
poll). A busy process thus polls about as often as half a batch arrives, a quiet one
at most once per linger, whatever the broker does: the fixed costs are paid per half
batch or per linger, not per round trip, so they do not grow per event as processes
are added. The price is latency, at most ``linger`` per stage, against a cut interval
of minutes.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

#: The reasons a partition is held paused.
HANDOVER, BUDGET, LINGER = "handover", "budget", "linger"
#: How long a paced poll waits at most for records (ms): those that gathered during the
#: hold come back within a fetch's round trip, and on a broker that answers empty fetches
#: at once a longer wait is a busy loop (noida-db: about one fetch every 0.5 ms of it), so
#: the wait also ends once every polled partition's fetch is back (:meth:`Pacer._window`). A
#: fetch still in flight when the window closes is not lost: aiokafka keeps what it
#: brings, and the next poll returns it (it resumes the partition before it reads; a
#: read of a paused partition would drop the records, to be fetched again).
POLL_WINDOW_MS = 5
#: The step of that wait (ms): the event loop's timers are as fine as a millisecond.
STEP_MS = 1
#: The shortest hold, as a share of the longest: a consumer that has a high rate still
#: lets a little gather instead of fetching per round trip.
MIN_HOLD_SHARE = 0.05


class Pauses:
    """The reasons each partition of one consumer is paused; it runs only with none."""

    def __init__(self, consumer: AIOKafkaConsumer) -> None:
        self._consumer = consumer
        self._holds: dict[TopicPartition, set[str]] = {}

    def hold(self, reason: str, partitions: Iterable[TopicPartition]) -> list[TopicPartition]:
        """Pause ``partitions`` that are assigned, for ``reason``; returns them."""
        current = self._consumer.assignment()
        held = [tp for tp in partitions if tp in current]
        for tp in held:
            self._holds.setdefault(tp, set()).add(reason)
        if held:
            self._consumer.pause(*held)
        return held

    def release(self, reason: str, partitions: Iterable[TopicPartition] | None = None) -> None:
        """Drop ``reason`` (from ``partitions``, or from all); resume what nothing holds."""
        chosen = list(self._holds) if partitions is None else list(partitions)
        free = []
        for tp in chosen:
            reasons = self._holds.get(tp)
            if reasons is None or reason not in reasons:
                continue
            reasons.discard(reason)
            if not reasons:
                del self._holds[tp]
                free.append(tp)
        current = self._consumer.assignment()
        resumable = [tp for tp in free if tp in current]
        if resumable:
            self._consumer.resume(*resumable)

    def held(self, reason: str) -> set[TopicPartition]:
        return {tp for tp, reasons in self._holds.items() if reason in reasons}

    def forget(self, partitions: Iterable[TopicPartition]) -> None:
        """Partitions no longer assigned: a later assignment starts unpaused."""
        for tp in partitions:
            self._holds.pop(tp, None)


class Pacer:
    """Polls ``consumer`` with a hold after each short poll (see the module)."""

    def __init__(
        self, consumer: AIOKafkaConsumer, pauses: Pauses, linger: float, max_records: int
    ) -> None:
        self._consumer = consumer
        self._pauses = pauses
        self.linger = linger
        self.max_records = max_records
        self.target = max(1, max_records // 2)
        self.rate: float | None = None  # records/s, smoothed over recent polls
        self._last_poll: float | None = None
        self._held_until: float | None = None
        self._woken = asyncio.Event()

    async def poll(
        self, *partitions: TopicPartition, timeout_ms: int = 200, until: float | None = None
    ) -> dict[TopicPartition, list[Any]]:
        """``getmany`` of ``partitions`` (all assigned if none), after the current hold.

        ``until`` (a ``time.monotonic()`` time) ends the hold then at the latest: a
        stage with work due at a time of its own (the writer's next cut) polls then,
        not up to a linger later."""
        if self._held_until is not None:
            ends = self._held_until if until is None else min(self._held_until, until)
            remaining = ends - time.monotonic()
            if remaining > 0:
                self._woken.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._woken.wait(), remaining)
            self._held_until = None
            self._pauses.release(LINGER)
        if self.linger > 0:
            batches = await self._window(partitions, min(timeout_ms, POLL_WINDOW_MS))
        else:
            batches = await self._consumer.getmany(
                *partitions, timeout_ms=timeout_ms, max_records=self.max_records
            )
        now = time.monotonic()
        count = sum(len(records) for records in batches.values())
        hold = self.hold_after(count, now)
        if self.linger > 0 and count < self.max_records:
            running = self._running(partitions)
            hold_for = self._hold_for(batches, running, hold)
            if hold_for is not None:
                # also with nothing running (all held for other reasons): no busy loop
                self._pauses.hold(LINGER, running)
                self._held_until = now + hold_for
        return batches

    async def _window(
        self, partitions: tuple[TopicPartition, ...], window_ms: int
    ) -> dict[TopicPartition, list[Any]]:
        """``getmany`` until records come, every polled partition's fetch has come back
        since the poll began (empty: nothing gathered), or ``window_ms`` passes.

        A broker that answers an empty fetch at once (noida-db) is asked again at once
        by aiokafka's fetcher: waiting out the whole window sent about ten fetches per
        poll of an idle partition, each a request to encode and a response to parse.
        Checking in steps of ``STEP_MS`` ends the window after the first answer, so an
        idle consumer sends one or two fetches per linger instead."""
        began_ms = int(time.time() * 1000)
        deadline = time.monotonic() + window_ms / 1000
        while True:
            batches = await self._consumer.getmany(
                *partitions, timeout_ms=STEP_MS, max_records=self.max_records
            )
            if batches or time.monotonic() >= deadline or self._answered(partitions, began_ms):
                return batches

    def _answered(self, partitions: tuple[TopicPartition, ...], since_ms: int) -> bool:
        """Whether a fetch of each running partition came back at or after ``since_ms``
        (with none running, nothing is fetched: nothing to wait for)."""
        for tp in self._running(partitions):
            at = self._consumer.last_poll_timestamp(tp)
            if at is None or at < since_ms:
                return False
        return True

    def _running(self, partitions: tuple[TopicPartition, ...]) -> list[TopicPartition]:
        """The polled partitions that are assigned and that nothing else holds paused."""
        assigned = self._consumer.assignment()
        paused = self._consumer.paused()
        return [tp for tp in partitions or assigned if tp in assigned and tp not in paused]

    def _hold_for(
        self, batches: dict[TopicPartition, list[Any]], running: list[TopicPartition], hold: float
    ) -> float | None:
        """The hold after a short poll: none while the broker holds more of a partition
        than this poll brought (a backlog comes one fetch's worth at a time, and is read
        on), the shortest while a partition's end is not known yet (no fetch has come
        back since it was assigned: the poll was empty for that alone), else ``hold``."""
        unknown = False
        for tp in running:
            end = self._consumer.highwater(tp)
            if end is None:
                unknown = True
                continue
            records = batches.get(tp)
            if records and end > records[-1].offset + 1:
                return None
        return min(hold, self.linger * MIN_HOLD_SHARE) if unknown else hold

    def hold_after(self, count: int, now: float) -> float:
        """How long to let records gather after a poll of ``count`` records at ``now``:
        enough, at the recent rate, for half a batch; ``linger`` at most.

        An empty poll counts as a rate of nothing, so it halves the recent rate and at
        most doubles the hold: a busy stage's poll can come back empty because its
        fetch was not back within the poll's window (a loaded broker), and a full
        linger then let a backlog of seconds build up (at 12,000 records/s and 2 s, 24,000;
        `loadtest --find-capacity` saw p99 rise by 2-4 s). A stage that is really idle
        reaches the linger after a few polls."""
        if self._last_poll is not None and now > self._last_poll:
            sample = count / (now - self._last_poll)
            self.rate = sample if self.rate is None else (self.rate + sample) / 2
        self._last_poll = now
        if not self.rate:
            return self.linger
        return min(self.linger, max(self.linger * MIN_HOLD_SHARE, self.target / self.rate))

    def wake(self) -> None:
        """End the current hold: the next poll fetches at once (someone waits for a
        record, e.g. the control API for its own write)."""
        self._held_until = None
        self._woken.set()
        self._pauses.release(LINGER)
