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
hundreds of times a second. After a poll that brought less than a full batch, the
pacer pauses the consumer's partitions for ``linger`` seconds, during which the
records gather at the broker and no fetch is sent; each empty poll in a row adds a
linger to the hold, up to ``IDLE_HOLDS`` lingers, so an idle consumer costs next to
nothing.
The price is latency: at most ``linger`` per stage under load (a few lingers on the
first event after idleness), against a cut interval of minutes.
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
#: After empty polls the hold grows up to this many lingers.
IDLE_HOLDS = 8


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
    """Polls ``consumer`` with a linger after each short poll (see the module)."""

    def __init__(
        self, consumer: AIOKafkaConsumer, pauses: Pauses, linger: float, max_records: int
    ) -> None:
        self._consumer = consumer
        self._pauses = pauses
        self.linger = linger
        self.max_records = max_records
        self._held_until: float | None = None
        self._woken = asyncio.Event()
        self._empty_polls = 0

    async def poll(
        self, *partitions: TopicPartition, timeout_ms: int = 200
    ) -> dict[TopicPartition, list[Any]]:
        """``getmany`` of ``partitions`` (all assigned if none), after the current hold.

        While pacing, the poll itself waits at most one linger: on a broker that
        answers empty fetches at once, a long poll is a busy loop of fetches."""
        if self._held_until is not None:
            remaining = self._held_until - time.monotonic()
            if remaining > 0:
                self._woken.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._woken.wait(), remaining)
            self._held_until = None
            self._pauses.release(LINGER)
        if self.linger > 0:
            timeout_ms = min(timeout_ms, max(1, int(self.linger * 1000)))
        batches = await self._consumer.getmany(
            *partitions, timeout_ms=timeout_ms, max_records=self.max_records
        )
        count = sum(len(records) for records in batches.values())
        if self.linger > 0 and count < self.max_records:
            self._empty_polls = 0 if count else min(self._empty_polls + 1, IDLE_HOLDS)
            hold = self.linger * max(1, self._empty_polls)
            if self._pauses.hold(LINGER, partitions or self._consumer.assignment()):
                self._held_until = time.monotonic() + hold
        return batches

    def wake(self) -> None:
        """End the current hold: the next poll fetches at once (someone waits for a
        record, e.g. the control API for its own write)."""
        self._held_until = None
        self._woken.set()
        self._pauses.release(LINGER)
