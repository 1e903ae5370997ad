"""Where captured events go: a bounded buffer, a Kafka producer thread, a journal.

The SDK caller's thread only does ``queue.put_nowait``; a full buffer spills to the
journal. A background thread owns an asyncio loop and an idempotent aiokafka
producer. When Kafka does not acknowledge a batch in time, the batch goes to the
journal and the thread probes the broker until it is back, then replays the journal.
So a slow or dead broker never blocks or fails the API call being recorded, and no
event is dropped (a batch that was in fact delivered before a time-out may be sent
again; the router drops such repeats by eventID).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from pathlib import Path

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from recorder.obs.logging import get_logger
from recorder.obs.metrics import Metrics
from recorder.producer.journal import Journal

log = get_logger("recorder.producer")

_BATCH = 500


class KafkaEventSink:
    def __init__(
        self,
        bootstrap_servers: str,
        topic: str = "api-events",
        *,
        journal_dir: Path = Path(".recorder-journal"),
        buffer_size: int = 10_000,
        send_timeout: float = 5.0,
        probe_interval: float = 0.5,
        metrics: Metrics | None = None,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.topic = topic
        self.send_timeout = send_timeout
        self.probe_interval = probe_interval
        self.metrics = metrics or Metrics()
        self.journal = Journal(journal_dir)
        self._queue: queue.Queue[tuple[bytes, bytes]] = queue.Queue(maxsize=buffer_size)
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._in_hand = 0  # drained from the buffer, neither acknowledged nor journaled yet
        self._thread = threading.Thread(target=self._thread_main, name="recorder-sink", daemon=True)
        self._thread.start()

    # -- caller side: never blocks for long, never raises ---------------------------
    def emit(self, key: bytes, value: bytes) -> None:
        self._idle.clear()
        try:
            self._queue.put_nowait((key, value))
            self.metrics.producer_events.labels("buffered").inc()
        except queue.Full:
            self.journal.append([(key, value)])
            self.metrics.producer_events.labels("spilled").inc()
        self._update_gauges()

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every event emitted so far is acknowledged by Kafka."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._queue.empty() and self.journal.records == 0 and self._idle.is_set():
                return True
            time.sleep(0.02)
        return False

    def close(self, timeout: float = 10.0) -> None:
        """Flush what can be flushed in ``timeout``; the rest stays in the journal."""
        self.flush(timeout)
        self._stop.set()
        self._thread.join(timeout + 5)

    @property
    def pending(self) -> int:
        return self._queue.qsize() + self.journal.records + self._in_hand

    def _update_gauges(self) -> None:
        self.metrics.producer_buffer_fill.set(self._queue.qsize())
        self.metrics.producer_journal_records.set(self.journal.records)

    # -- background thread --------------------------------------------------------------
    def _thread_main(self) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        producer: AIOKafkaProducer | None = None
        healthy = False
        next_probe = 0.0
        while True:
            batch = self._drain()
            self._in_hand = len(batch)
            stopping = self._stop.is_set()
            if not healthy and time.monotonic() >= next_probe:
                producer = await self._start_producer()
                healthy = producer is not None
                next_probe = time.monotonic() + self.probe_interval
            if healthy and producer is not None:
                if self.journal.records:
                    healthy = await self._replay(producer)
                if batch and healthy:
                    healthy = await self._send(producer, batch)
                    batch = [] if healthy else batch
            if batch:  # not delivered: keep it safe on disk
                self.journal.append(batch)
                self.metrics.producer_events.labels("spilled").inc(len(batch))
            self._in_hand = 0
            if not healthy and producer is not None:
                await self._stop_producer(producer)
                producer = None
            self._update_gauges()
            if self._queue.empty() and (healthy or stopping) and not batch:
                self._idle.set()
            if stopping and self._queue.empty():
                break
        if producer is not None:
            await self._stop_producer(producer)

    def _drain(self) -> list[tuple[bytes, bytes]]:
        items: list[tuple[bytes, bytes]] = []
        try:
            items.append(self._queue.get(timeout=0.05))
        except queue.Empty:
            return items
        while len(items) < _BATCH:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return items

    async def _start_producer(self) -> AIOKafkaProducer | None:
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap_servers,
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
            request_timeout_ms=int(self.send_timeout * 1000),
        )
        try:
            await asyncio.wait_for(producer.start(), self.send_timeout)
            # Metadata for our topic, so send() does not wait on it later.
            await asyncio.wait_for(producer.partitions_for(self.topic), self.send_timeout)
            return producer
        except (KafkaError, OSError, TimeoutError) as exc:
            log.debug("broker_unavailable", error=repr(exc))
            await self._stop_producer(producer)
            return None

    async def _stop_producer(self, producer: AIOKafkaProducer) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(producer.stop(), 2.0)

    async def _send(self, producer: AIOKafkaProducer, batch: list[tuple[bytes, bytes]]) -> bool:
        async def send_all() -> None:
            futures = [await producer.send(self.topic, v, key=k) for k, v in batch]
            await asyncio.gather(*futures)

        try:
            await asyncio.wait_for(send_all(), self.send_timeout)
        except (KafkaError, OSError, TimeoutError) as exc:
            log.warning("kafka_send_failed", events=len(batch), error=repr(exc))
            return False
        self.metrics.producer_events.labels("sent").inc(len(batch))
        return True

    async def _replay(self, producer: AIOKafkaProducer) -> bool:
        for segment in self.journal.seal():
            records = list(self.journal.read(segment))
            for i in range(0, len(records), _BATCH):
                if not await self._send(producer, records[i : i + _BATCH]):
                    return False
            self.journal.done(segment, len(records))
            self.metrics.producer_events.labels("replayed").inc(len(records))
            log.info("journal_replayed", segment=segment.name, events=len(records))
        return True
