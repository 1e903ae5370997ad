"""Where captured events go: an in-memory buffer, a Kafka producer thread, a journal.

The SDK caller's thread only appends to an in-memory queue (``defer`` for a hook's
capture, ``emit`` for a record already encoded): no lock held for long, no disk, no
network. A background thread owns an asyncio loop and an idempotent aiokafka
producer; it builds each capture's record, signs every record with the producer's
key, and when Kafka does not acknowledge a batch in time, or the buffer holds more
than ``buffer_size`` events, it writes the excess to the journal and probes the
broker until it is back, then replays the journal. So a slow or dead broker never
blocks or fails the API call being recorded, and no event is dropped (a batch that
was in fact delivered before a time-out may be sent again; the router drops such
repeats by eventID).

Who the caller is comes from the identity resolver, which never blocks this thread
(:mod:`recorder.producer.identity`): a record whose identity is not known yet waits
(:mod:`recorder.producer.awaiting`), up to ``buffer_size`` of them in memory, the
rest in the journal, and is sent once it is.

Safe in the application it lives in:

* Memory is bounded: ``buffer_size`` events queued, ``buffer_size`` waiting for an
  identity, one batch in hand; the rest is on disk.
* A forked child (gunicorn ``--preload``, any prefork server) gets its own queue,
  thread and journal directory (``os.register_at_fork``); what the parent held is
  the parent's to send.
* The journal is per process, under an absolute root, locked; a process adopts the
  journals of processes that are gone (:mod:`recorder.producer.journal`).
* The sink's thread is restarted if it ever dies, and what it held is journaled
  first (``recorder_producer_sink_restarts_total``).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import queue
import threading
import time
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from recorder.obs.logging import get_logger
from recorder.obs.metrics import Metrics
from recorder.producer.awaiting import Awaiting, Pending
from recorder.producer.hooks import finish
from recorder.producer.journal import AwaitingJournal, Journal, ProcessDirectory, default_root
from recorder.provenance.keys import ProducerKey
from recorder.provenance.signature import Signer
from recorder.settings import (
    DEFAULT_COMPRESSION,
    Settings,
    compression_kwargs,
    kafka_security_kwargs,
)

log = get_logger("recorder.producer")

_BATCH = 500
#: How often a broker that stays down is reported again at warning level.
_WARN_EVERY = 30.0
#: How often records waiting for an identity are looked at when nothing resolved.
_AWAIT_TICK = 0.2
#: What the parent's sink thread held when a child was forked: kept referenced in the
#: child so that it is never finalised there (its sockets are the parent's).
_ABANDONED: list[Any] = []


class KafkaEventSink:
    def __init__(
        self,
        bootstrap_servers: str,
        topic: str = "api-events",
        *,
        key: ProducerKey | None = None,
        journal_dir: Path | None = None,
        buffer_size: int = 10_000,
        send_timeout: float = 5.0,
        probe_interval: float = 0.5,
        identity_wait: float = 3600.0,
        exit_timeout: float = 5.0,
        metrics: Metrics | None = None,
        kafka_options: Mapping[str, Any] | None = None,
    ) -> None:
        if key is None:
            raise TypeError(
                "KafkaEventSink signs every record it sends: pass key= (the producer key the "
                "operator issued, recorder.provenance.ProducerKey), or build it with "
                "KafkaEventSink.from_settings (RECORDER_PRODUCER_KEY_ID/_SECRET)"
            )
        self.signer = Signer(key)
        self.bootstrap_servers = bootstrap_servers
        self.topic = topic
        self.journal_root = (journal_dir or default_root()).resolve()
        self.buffer_size = buffer_size
        self.send_timeout = send_timeout
        self.probe_interval = probe_interval
        self.identity_wait = identity_wait
        self.kafka_options = dict(kafka_options or {})
        self.metrics = metrics or Metrics()
        self.render_errors = 0
        self.restarts = 0
        self._closed = False
        self._open_process_state()
        self.exit_timeout = exit_timeout
        ref = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: (s := ref()) is not None and s._after_fork())
        atexit.register(lambda: (s := ref()) is not None and s._at_exit())
        self._ensure_thread()

    def _at_exit(self) -> None:
        """The interpreter exits (a worker's sys.exit too): send what can be sent in
        ``exit_timeout`` seconds, journal the rest for the next process."""
        if not self._closed and os.getpid() == self._pid:
            self.close(timeout=self.exit_timeout)

    def _open_process_state(self) -> None:
        """This process's queue, journal directory and thread state."""
        self._pid = os.getpid()
        self._start_lock = threading.Lock()
        self._queue: queue.SimpleQueue[tuple[Any, Any]] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._hand: list[tuple[bytes, bytes]] = []  # drained, neither acknowledged nor journaled
        self._down_since: float | None = None
        self._warned_at = 0.0
        self._thread: threading.Thread | None = None
        self._loop_state: list[Any] = []  # the running loop and producer (fork leftovers)
        self.directory = ProcessDirectory(self.journal_root)
        self.journal = Journal(self.directory.path)
        self.awaiting = Awaiting(
            AwaitingJournal(self.directory.path), self.buffer_size, self.identity_wait
        )

    def _after_fork(self) -> None:
        """In a forked child: the parent's thread, queue and journal stay the parent's."""
        _ABANDONED.append((self._thread, self._loop_state, self._queue, self.awaiting))
        self.directory.forget_after_fork()
        if self._closed:
            return
        self._open_process_state()  # the thread starts with the child's first event

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> KafkaEventSink:
        """A sink configured like the services: brokers, topic, journal, TLS and SASL, and
        the producer key it signs with."""
        kwargs: dict[str, Any] = {
            "key": settings.producer_key(),
            "journal_dir": settings.journal_dir,
            "buffer_size": settings.producer_buffer,
            "identity_wait": settings.producer_identity_wait,
            "kafka_options": {**compression_kwargs(settings), **kafka_security_kwargs(settings)},
        }
        kwargs.update(overrides)
        return cls(settings.bootstrap_servers, settings.topics.api_events, **kwargs)

    # -- caller side: an append to a queue, nothing else ---------------------------------
    def emit(self, key: bytes, value: bytes) -> None:
        """Send one encoded record (key: the recipient account)."""
        self._idle.clear()
        self._queue.put((key, value))
        self._ensure_thread()

    def defer(self, installation: Any, capture: Any) -> None:
        """Send the record of a hook's capture, built on the sink's thread."""
        self._idle.clear()
        self._queue.put((installation, capture))
        self._ensure_thread()

    def _ensure_thread(self) -> None:
        thread = self._thread
        if thread is not None and thread.is_alive():
            return
        with self._start_lock:
            if self._closed or (self._thread is not None and self._thread.is_alive()):
                return
            self._thread = threading.Thread(
                target=self._thread_main, name="recorder-sink", daemon=True
            )
            self._thread.start()

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every event emitted so far is acknowledged by Kafka."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pending == 0 and self._idle.is_set():
                return True
            time.sleep(0.02)
        return False

    def close(self, timeout: float = 10.0) -> None:
        """Flush what can be flushed in ``timeout``; the rest stays in the journal."""
        self.flush(timeout)
        self._closed = True
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout + 5)
        self.directory.close()

    @property
    def pending(self) -> int:
        return self._queue.qsize() + self.journal.records + len(self._hand) + self.awaiting.count

    def _update_gauges(self) -> None:
        self.metrics.producer_buffer_fill.set(self._queue.qsize())
        self.metrics.producer_journal_records.set(self.journal.records)
        self.metrics.producer_awaiting_identity.set(self.awaiting.count)

    # -- background thread --------------------------------------------------------------
    def _thread_main(self) -> None:
        """Run the sink; if it ever fails, keep what it held and run it again."""
        pause = 0.1
        while True:
            try:
                asyncio.run(self._run())
                return
            except BaseException as exc:
                if self._stop.is_set() or os.getpid() != self._pid:
                    return
                self.restarts += 1
                self.metrics.producer_sink_restarts.inc()
                log.exception("producer_sink_failed", error=repr(exc), restart_in=pause)
                self._journal_hand()
                time.sleep(pause)
                pause = min(pause * 2, 5.0)

    def _journal_hand(self) -> None:
        with contextlib.suppress(Exception):
            held, self._hand = self._hand, []
            if held:
                self.journal.append(held)
                self.metrics.producer_events.labels("spilled").inc(len(held))

    async def _run(self) -> None:
        self._adopt_orphans()
        self._journal_hand()
        producer: AIOKafkaProducer | None = None
        healthy = False
        next_probe = 0.0
        next_await = 0.0
        self._loop_state[:] = [asyncio.get_running_loop()]
        try:
            while True:
                stopping = self._stop.is_set()
                self._hand.extend(self._drain())
                now = time.monotonic()
                if now >= next_await or self.awaiting.journal_due:
                    next_await = now + _AWAIT_TICK
                    self._hand.extend(self.awaiting.release_memory(self._finish))
                if self.awaiting.spill(str(self.directory.path)):
                    self.metrics.producer_events.labels("awaiting_spilled").inc()
                if not healthy and time.monotonic() >= next_probe:
                    producer = await self._start_producer()
                    self._loop_state[1:] = [producer]
                    healthy = producer is not None
                    next_probe = time.monotonic() + self.probe_interval
                if healthy and producer is not None:
                    if self.journal.records:
                        healthy = await self._replay(producer)
                    if self.awaiting.journal_due and healthy:
                        self.awaiting.release_journal(self._finish, self.journal.append)
                    if self._hand and healthy:
                        healthy = await self._send(producer, self._hand)
                        if healthy:
                            self._hand = []
                elif self.awaiting.journal_due:
                    self.awaiting.release_journal(self._finish, self.journal.append)
                if self._hand:  # not delivered: keep it safe on disk
                    self._journal_hand()
                if not healthy and producer is not None:
                    await self._stop_producer(producer)
                    producer = None
                self._update_gauges()
                if self._queue.empty() and (healthy or stopping) and self.pending == 0:
                    self._idle.set()
                if stopping and self._queue.empty():
                    # what still waits for an identity goes to disk, for the next process
                    self.awaiting.spill_memory()
                    self.awaiting.spill(str(self.directory.path))
                    self._journal_hand()
                    break
        finally:
            if producer is not None:
                await self._stop_producer(producer)

    def _adopt_orphans(self) -> None:
        """Take in the journals of processes that are gone (their locks are free)."""
        for directory, fd in self.directory.orphans():
            moved = 0
            for kind, target in (("", self.journal), ("awaiting-", self.awaiting.journal)):
                for segment in [
                    *sorted(directory.glob(f"{kind}sealed-*.jsonl")),
                    *directory.glob(f"{kind}active.jsonl"),
                ]:
                    if kind == "" and segment.name.startswith("awaiting-"):
                        continue
                    target.adopt(segment)
                    moved += 1
            self.directory.release(directory, fd)
            if moved:
                log.info("journal_adopted", directory=str(directory), segments=moved)

    def _drain(self) -> list[tuple[bytes, bytes]]:
        """Up to a batch of encoded records; the excess over ``buffer_size`` goes to disk."""
        items: list[tuple[Any, Any]] = []
        try:
            items.append(self._queue.get(timeout=0.05))
        except queue.Empty:
            return []
        while len(items) < _BATCH:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                break
        self._idle.clear()
        self.metrics.producer_events.labels("buffered").inc(len(items))
        rendered = self._render(items)
        excess = self._queue.qsize() - self.buffer_size
        if excess > 0:  # the caller outruns the broker: spill here, not on its thread
            overflow: list[tuple[Any, Any]] = []
            for _ in range(excess):
                try:
                    overflow.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            spilled = self._render(overflow)
            self.journal.append(spilled)
            self.metrics.producer_events.labels("spilled").inc(len(spilled))
        return rendered

    def _render(self, items: list[tuple[Any, Any]]) -> list[tuple[bytes, bytes]]:
        """Encoded records of queued items: hook captures are built here, off the caller;
        one whose caller's identity is not known yet goes to wait for it."""
        out: list[tuple[bytes, bytes]] = []
        for first, second in items:
            if isinstance(first, bytes):
                out.append((first, second))
                continue
            try:
                identity = first.identity_of(second)
                if identity is not None:
                    out.append(first.render(second, identity))
                    continue
                pending = first.prerender(second)
                self.awaiting.add(pending, second.credentials, first.resolver)
            except Exception as exc:
                self._failed(first, exc)
        return out

    def _finish(self, pending: Pending, identity: Any) -> tuple[bytes, bytes] | None:
        try:
            return finish(pending, identity)
        except Exception as exc:
            self._failed(pending.installation, exc)
            return None

    def _failed(self, installation: Any, exc: BaseException) -> None:
        self.render_errors += 1
        if installation is not None:
            installation.errors += 1
        self.metrics.producer_events.labels("failed").inc()
        log.error("producer_record_failed", error=repr(exc))

    async def _start_producer(self) -> AIOKafkaProducer | None:
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap_servers,
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
            request_timeout_ms=int(self.send_timeout * 1000),
            max_request_size=2 * 1024 * 1024,
            **{"compression_type": DEFAULT_COMPRESSION, **self.kafka_options},
        )
        try:
            await asyncio.wait_for(producer.start(), self.send_timeout)
            # Metadata for our topic, so send() does not wait on it later.
            await asyncio.wait_for(producer.partitions_for(self.topic), self.send_timeout)
        except (KafkaError, OSError, TimeoutError) as exc:
            self._broker_down(exc)
            await self._stop_producer(producer)
            return None
        if self._down_since is not None:
            log.info(
                "broker_available",
                bootstrap_servers=self.bootstrap_servers,
                down_seconds=round(time.monotonic() - self._down_since, 1),
                journal_records=self.journal.records,
            )
            self._down_since = None
        return producer

    def _broker_down(self, exc: BaseException) -> None:
        """Warn when the broker first fails and every ``_WARN_EVERY`` s while it stays down."""
        now = time.monotonic()
        if self._down_since is None:
            self._down_since = now
        if now - self._warned_at >= _WARN_EVERY:
            self._warned_at = now
            log.warning(
                "broker_unavailable",
                bootstrap_servers=self.bootstrap_servers,
                error=repr(exc),
                down_seconds=round(now - self._down_since, 1),
                journal_records=self.journal.records,
                journal_dir=str(self.directory.path),
            )

    async def _stop_producer(self, producer: AIOKafkaProducer) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(producer.stop(), 2.0)

    async def _send(self, producer: AIOKafkaProducer, batch: list[tuple[bytes, bytes]]) -> bool:
        async def send_all() -> None:
            sign = self.signer.headers
            futures = [
                await producer.send(self.topic, v, key=k, headers=sign(k, v)) for k, v in batch
            ]
            await asyncio.gather(*futures)

        try:
            await asyncio.wait_for(send_all(), self.send_timeout)
        except (KafkaError, OSError, TimeoutError) as exc:
            log.warning("kafka_send_failed", events=len(batch), error=repr(exc))
            return False
        self.metrics.producer_events.labels("sent").inc(len(batch))
        return True

    async def _replay(self, producer: AIOKafkaProducer) -> bool:
        """Send the journal a batch at a time (a segment is never read whole into memory);
        a segment is deleted once all of it was acknowledged."""
        for segment in self.journal.seal():
            sent = 0
            batch: list[tuple[bytes, bytes]] = []
            for record in self.journal.read(segment):
                batch.append(record)
                if len(batch) >= _BATCH:
                    if not await self._send(producer, batch):
                        return False
                    sent += len(batch)
                    batch = []
            if batch and not await self._send(producer, batch):
                return False
            sent += len(batch)
            self.journal.done(segment)
            self.metrics.producer_events.labels("replayed").inc(sent)
            log.info("journal_replayed", segment=segment.name, events=sent)
        return True
