"""A traffic generator: one process, its own Kafka producer, a share of the offered rate.

The load test runs as many of these as the rate needs, each a separate process, so
generating, encoding and producing events never takes the CPU the harness samples
with (and sampling never delays the traffic). The offered rate is read from shared
memory on every turn, so ``--find-capacity`` can raise it while they run. Each
generator counts what it sent and what must be delivered in shared counters (the
checker plots them live) and, when told to stop, writes the exact set of expected
deliveries to a file for the final completeness check.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any, Protocol

from loadtest.burst import Burst
from loadtest.traffic import TrafficMix
from loadtest.trails import delivery_key
from recorder.events import encode
from recorder.kafka import clients
from recorder.producer import KafkaEventSink
from recorder.provenance.signature import Signer
from recorder.routing import RoutingEngine
from recorder.settings import Settings
from recorder.trails import Trail


class Sink(Protocol):
    def emit(self, key: bytes, value: bytes) -> None: ...
    def close(self, timeout: float = 10.0) -> None: ...


class PlainSink:
    """At-least-once producer for brokers without idempotent producers (tansu): a
    thread with an aiokafka producer; a batch that fails is sent again."""

    def __init__(self, settings: Settings, topic: str = "api-events") -> None:
        self.settings, self.topic = settings, topic
        self.signer = Signer(settings.producer_key())  # signed like every producer's
        self._queue: queue.Queue[tuple[bytes, bytes] | None] = queue.Queue()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self._thread.start()

    def emit(self, key: bytes, value: bytes) -> None:
        self._queue.put((key, value))

    def pending(self) -> int:
        """Records emitted and not yet taken by the sending thread."""
        return self._queue.qsize()

    def close(self, timeout: float = 10.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout)

    async def _run(self) -> None:
        producer = clients.producer(self.settings)
        await producer.start()
        try:
            done = False
            while not done:
                batch: list[tuple[bytes, bytes]] = []
                with contextlib.suppress(queue.Empty):
                    item = self._queue.get(timeout=0.05)
                    while True:
                        if item is None:
                            done = True
                            break
                        batch.append(item)
                        if len(batch) >= 500:
                            break
                        item = self._queue.get_nowait()
                while batch:
                    try:
                        sign = self.signer.headers
                        futures = [
                            await producer.send(self.topic, v, key=k, headers=sign(k, v))
                            for k, v in batch
                        ]
                        await asyncio.gather(*futures)
                        batch = []
                    except Exception:  # at least once: send the batch again
                        await asyncio.sleep(0.2)
        finally:
            await producer.stop()


@dataclass
class Shared:
    """What a generator shares with the others and the checker (shared memory)."""

    rate: Synchronized[float]  # total offered events/s, over all generators
    stop: Any  # multiprocessing.Event
    sent: list[Synchronized[int]] = field(default_factory=list)
    expected: list[Synchronized[int]] = field(default_factory=list)
    # deliveries to trails whose destination is broken (--break-destination)
    held: list[Synchronized[int]] = field(default_factory=list)
    burst_sent: Synchronized[int] | None = None  # --burst calls sent


@dataclass(frozen=True)
class GeneratorConfig:
    index: int
    count: int
    settings: Settings
    specs: list[dict[str, Any]]
    accounts: list[str]
    seed: int
    workdir: Path
    plain_producer: bool  # tansu: no idempotent producer
    held_trails: frozenset[str] = frozenset()  # broken destinations: counted apart
    burst: Burst | None = None  # only one generator sends the burst

    @property
    def expected_file(self) -> Path:
        return self.workdir / f"generator-{self.index}.expected"

    @property
    def held_file(self) -> Path:
        return self.workdir / f"generator-{self.index}.held"


def make_sink(cfg: GeneratorConfig) -> Sink:
    if cfg.plain_producer:
        return PlainSink(cfg.settings)
    return KafkaEventSink.from_settings(
        cfg.settings, journal_dir=cfg.workdir / f"journal-{cfg.index}", buffer_size=10_000
    )


def owed(debt: float, rate: float, elapsed: float, cap_seconds: float = 3.0) -> tuple[int, float]:
    """Events due now at ``rate`` after ``elapsed`` seconds, and the fraction carried.

    A generator that fell behind (starved of CPU) catches up at most ``cap_seconds``
    worth at once: beyond that, the achieved rate shows the shortfall instead of a
    burst."""
    debt = min(debt + rate * elapsed, max(1.0, rate * cap_seconds))
    n = int(debt)
    return n, debt - n


def run(cfg: GeneratorConfig, shared: Shared, clock: Callable[[], float] = time.time) -> None:
    """Generate until ``shared.stop`` is set; then flush and write the expected sets."""
    engine = RoutingEngine.compile([Trail.from_api(t) for t in cfg.specs], {})
    mix = TrafficMix(cfg.accounts, seed=cfg.seed * 1000 + cfg.index)
    sink = make_sink(cfg)
    keys, held = array("Q"), array("Q")
    sent_v, expected_v = shared.sent[cfg.index], shared.expected[cfg.index]
    held_v = shared.held[cfg.index] if shared.held else None
    debt, last = 0.0, time.monotonic()
    started: float | None = None

    def emit(event: dict[str, Any]) -> None:
        eid = event["eventID"]
        for d in engine.route(event):
            key = delivery_key(eid, d.trail_arn, d.account_id, d.region)
            (held if d.trail_arn in cfg.held_trails else keys).append(key)
        sink.emit(event["recipientAccountId"].encode(), encode(event))

    while not shared.stop.is_set():
        now_m = time.monotonic()
        rate = shared.rate.value / cfg.count
        n, debt = owed(debt, rate, now_m - last)
        last = now_m
        now = clock()
        for i in range(1, n + 1):
            emit(mix.event(now))
            if i % 200 == 0:  # a late generator's catch-up shows in the live counters
                sent_v.value += 200
        extra = 0  # the burst's calls, counted apart from the mix
        if cfg.burst is not None and rate:
            started = now if started is None else started
            for event in cfg.burst.events(mix, now - started, now):
                emit(event)
                extra += 1
            if shared.burst_sent is not None:
                shared.burst_sent.value = cfg.burst.sent
        if n or extra:
            sent_v.value += n % 200
            expected_v.value = len(keys)
            if held_v is not None:
                held_v.value = len(held)
        else:
            time.sleep(0.002)
    sink.close(60)
    for path, values in ((cfg.held_file, held), (cfg.expected_file, keys)):  # expected last
        tmp = path.with_suffix(".tmp")
        with tmp.open("wb") as f:
            values.tofile(f)
        tmp.rename(path)


def read_expected(path: Path) -> array[int]:
    keys = array("Q")
    with path.open("rb") as f:
        keys.frombytes(f.read())
    return keys
