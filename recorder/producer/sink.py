"""Where captured events go: an in-memory buffer, a Kafka producer thread, a journal.

The SDK caller's thread only appends to an unbounded in-memory queue (``defer`` for a
hook's capture, ``emit`` for a record already encoded): no lock held for long, no
disk, no network. A background thread owns an asyncio loop and an idempotent aiokafka
producer; it renders captures into records, and when Kafka does not acknowledge a
batch in time, or the buffer holds more than ``buffer_size`` events, it writes the
excess to the journal and probes the broker until it is back, then replays the
journal. So a slow or dead broker never blocks or fails the API call being recorded,
and no event is dropped (a batch that was in fact delivered before a time-out may be
sent again; the router drops such repeats by eventID).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from recorder.obs.logging import get_logger
from recorder.obs.metrics import Metrics
from recorder.producer.journal import Journal
from recorder.provenance.keys import ProducerKey
from recorder.provenance.signature import Signer
from recorder.settings import Settings, kafka_security_kwargs

log = get_logger("recorder.producer")

_BATCH = 500
#: How often a broker that stays down is reported again at warning level.
_WARN_EVERY = 30.0


class KafkaEventSink:
    def __init__(
        self,
        bootstrap_servers: str,
        topic: str = "api-events",
        *,
        key: ProducerKey | None = None,
        journal_dir: Path = Path(".recorder-journal"),
        buffer_size: int = 10_000,
        send_timeout: float = 5.0,
        probe_interval: float = 0.5,
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
        self.buffer_size = buffer_size
        self.send_timeout = send_timeout
        self.probe_interval = probe_interval
        self.kafka_options = dict(kafka_options or {})
        self.metrics = metrics or Metrics()
        self.journal = Journal(journal_dir)
        self.render_errors = 0
        self._queue: queue.SimpleQueue[tuple[Any, Any]] = queue.SimpleQueue()
        self._unresolved: list[tuple[Any, Any]] = []  # captures whose identity lookup failed
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._in_hand = 0  # drained from the buffer, neither acknowledged nor journaled yet
        self._down_since: float | None = None
        self._warned_at = 0.0
        self._thread = threading.Thread(target=self._thread_main, name="recorder-sink", daemon=True)
        self._thread.start()

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> KafkaEventSink:
        """A sink configured like the services: brokers, topic, journal, TLS and SASL, and
        the producer key it signs with."""
        kwargs: dict[str, Any] = {
            "key": settings.producer_key(),
            "journal_dir": settings.journal_dir,
            "buffer_size": settings.producer_buffer,
            "kafka_options": kafka_security_kwargs(settings),
        }
        kwargs.update(overrides)
        return cls(settings.bootstrap_servers, settings.topics.api_events, **kwargs)

    # -- caller side: an append to a queue, nothing else ---------------------------------
    def emit(self, key: bytes, value: bytes) -> None:
        """Send one encoded record (key: the recipient account)."""
        self._idle.clear()
        self._queue.put((key, value))

    def defer(self, installation: Any, capture: Any) -> None:
        """Send the record of a hook's capture, rendered on the sink's thread."""
        self._idle.clear()
        self._queue.put((installation, capture))

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
        self._stop.set()
        self._thread.join(timeout + 5)

    @property
    def pending(self) -> int:
        return self._queue.qsize() + self.journal.records + self._in_hand + len(self._unresolved)

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
                if self._unresolved:
                    batch.extend(self._render(self._take_unresolved()))
                producer = await self._start_producer()
                healthy = producer is not None
                next_probe = time.monotonic() + self.probe_interval
            if healthy and producer is not None:
                if self.journal.records:
                    healthy = await self._replay(producer)
                if batch and healthy:
                    healthy = await self._send(producer, batch)
                    batch = [] if healthy else batch
                if self._unresolved and time.monotonic() >= next_probe:
                    batch.extend(self._render(self._take_unresolved()))
                    next_probe = time.monotonic() + self.probe_interval
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
        # In hand from here, so flush() never sees them in neither place while rendered.
        self._idle.clear()
        self._in_hand = len(items)
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
            self._in_hand += len(overflow)
            spilled = self._render(overflow)
            self.journal.append(spilled)
            self._in_hand -= len(overflow)
            self.metrics.producer_events.labels("spilled").inc(len(spilled))
        return rendered

    def _take_unresolved(self) -> list[tuple[Any, Any]]:
        items, self._unresolved = self._unresolved, []
        self._idle.clear()
        self._in_hand += len(items)  # until sent or journaled, like a drained batch
        return items

    def _render(self, items: list[tuple[Any, Any]]) -> list[tuple[bytes, bytes]]:
        """Encoded records of queued items: hook captures are built here, off the caller."""
        out: list[tuple[bytes, bytes]] = []
        for first, second in items:
            if isinstance(first, bytes):
                out.append((first, second))
                continue
            try:
                out.append(first.render(second))
            except Exception as exc:
                if _is_identity_failure(exc):
                    self._keep_unresolved(first, second, exc)
                    continue
                self.render_errors += 1
                first.errors += 1
                self.metrics.producer_events.labels("failed").inc()
                log.exception("producer_record_failed", error=repr(exc))
        return out

    def _keep_unresolved(self, installation: Any, capture: Any, exc: BaseException) -> None:
        if not self._unresolved:
            log.warning("identity_unresolved", error=repr(exc), retry_in=self.probe_interval)
        self._unresolved.append((installation, capture))

    async def _start_producer(self) -> AIOKafkaProducer | None:
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap_servers,
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
            request_timeout_ms=int(self.send_timeout * 1000),
            max_request_size=2 * 1024 * 1024,
            **self.kafka_options,
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
                journal_dir=str(self.journal.directory),
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
        for segment in self.journal.seal():
            records = list(self.journal.read(segment))
            for i in range(0, len(records), _BATCH):
                if not await self._send(producer, records[i : i + _BATCH]):
                    return False
            self.journal.done(segment, len(records))
            self.metrics.producer_events.labels("replayed").inc(len(records))
            log.info("journal_replayed", segment=segment.name, events=len(records))
        return True


def _is_identity_failure(exc: BaseException) -> bool:
    """An STS lookup that may succeed later (network, throttling, a 5xx): retry it.

    Credentials STS refuses (4xx) stay refused; such a record is counted as failed.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    if isinstance(exc, BotoCoreError):
        return True
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500)
        code = exc.response.get("Error", {}).get("Code", "")
        return bool(status >= 500 or status == 429 or "Throttl" in code)
    return False
