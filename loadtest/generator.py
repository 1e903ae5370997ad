"""A traffic generator: one process, its own Kafka producer, a share of the offered rate.

The load test runs as many of these as the rate needs, each a separate process, so
generating, encoding and producing events never takes the CPU the harness samples
with (and sampling never delays the traffic). The offered rate is read from shared
memory on every turn, so ``--find-capacity`` can raise it while they run. Each
generator counts what it sent and what must be delivered in shared counters (the
checker plots them live) and, when told to stop, writes the exact set of expected
deliveries to a file for the final completeness check.

A generator stands for the tenants' producers, which run on their own machines; what
it spends per event is taken from the two cores the recorder is measured on, so it
sends pre-encoded events, as a load harness of its own would: a pool of the mix's
records is encoded (and routed, for the expected deliveries) once, and each send
copies one, stamps its own eventID (carrying the emit time) and eventTime into the
Avro body and the route header (fixed-length strings), and into an S3 record its own
object key (taken from the eventID's random part: S3 data events name objects that
are seldom named twice, so routing never sees the same resources again, as with real
traffic), signs it as every producer does, and appends it to one record batch per
partition, sent every ``TICK`` seconds
(:class:`BatchSender`: at least once, a failed batch is sent again; the router drops
repeats by eventID).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any

from loadtest.burst import Burst
from loadtest.traffic import OBJECT_KEY_LENGTH, TrafficMix, timed_event_id
from loadtest.trails import delivery_key
from recorder.events import encode
from recorder.kafka import clients
from recorder.provenance.signature import Signer
from recorder.routing import RoutingEngine
from recorder.routing.produce import PartitionOf
from recorder.settings import Settings
from recorder.trails import Trail

#: Seconds between two sends of a generator's batches (one per partition).
TICK = 0.05
#: Records of the mix each generator encodes once and sends again and again.
POOL = 4000
#: A record batch's size bound (the broker's default message size is larger).
BATCH_BYTES = 1024 * 1024

Headers = list[tuple[str, bytes]]


@dataclass(frozen=True, slots=True)
class Template:
    """One record of the mix, encoded once, with where its eventID and eventTime sit
    in the body and in the route header, and the deliveries routing gives it."""

    key: bytes
    value: bytes
    route: bytes
    value_id: int
    value_time: int
    route_id: int
    route_time: int
    deliveries: tuple[tuple[str, str, str], ...]  # (trail ARN, account, region)
    #: Where the S3 object key is, in the body and in the route header (none: not S3)
    value_objects: tuple[int, ...] = ()
    route_objects: tuple[int, ...] = ()

    def stamped(self, event_id: bytes, event_time: bytes) -> tuple[bytes, bytes]:
        """The body and route header of this record with its own eventID and time, and
        (an S3 record) its own object key."""
        key = b"k" + event_id[-(OBJECT_KEY_LENGTH - 1) :]  # the eventID's random tail
        v = bytearray(self.value)
        v[self.value_id : self.value_id + len(event_id)] = event_id
        v[self.value_time : self.value_time + len(event_time)] = event_time
        for at in self.value_objects:
            v[at : at + OBJECT_KEY_LENGTH] = key
        r = bytearray(self.route)
        r[self.route_id : self.route_id + len(event_id)] = event_id
        r[self.route_time : self.route_time + len(event_time)] = event_time
        for at in self.route_objects:
            r[at : at + OBJECT_KEY_LENGTH] = key
        return bytes(v), bytes(r)


def _every(data: bytes, part: bytes) -> tuple[int, ...]:
    found: list[int] = []
    at = data.find(part)
    while at >= 0:
        found.append(at)
        at = data.find(part, at + 1)
    return tuple(found)


def _once(data: bytes, part: bytes) -> int:
    found = _every(data, part)
    if len(found) != 1:
        raise ValueError(f"{part!r} is not in the encoded record exactly once")
    return found[0]


def template(event: dict[str, Any], engine: RoutingEngine) -> Template:
    """``event`` encoded once; its eventID (36 characters) and eventTime (20) are
    found once each in the body and the route header, to be stamped over, and an S3
    object key (:func:`loadtest.traffic.object_key`) wherever it is."""
    encoded = encode(event)
    event_id, event_time = event["eventID"].encode(), event["eventTime"].encode()
    if len(event_id) != 36 or len(event_time) != 20:
        raise ValueError("a template's eventID and eventTime have fixed lengths")
    key = (event.get("requestParameters") or {}).get("key")
    object_key = b""
    if event.get("eventSource") == "s3.amazonaws.com" and isinstance(key, str):
        if len(key) != OBJECT_KEY_LENGTH:
            raise ValueError(f"a template's object key has {OBJECT_KEY_LENGTH} characters")
        object_key = key.encode()
    return Template(
        event["recipientAccountId"].encode(),
        bytes(encoded),
        encoded.route,
        _once(encoded, event_id),
        _once(encoded, event_time),
        _once(encoded.route, event_id),
        _once(encoded.route, event_time),
        tuple((d.trail_arn, d.account_id, d.region) for d in engine.route(event)),
        _every(encoded, object_key) if object_key else (),
        _every(encoded.route, object_key) if object_key else (),
    )


class BatchSender:
    """Records appended to one batch per partition; :meth:`send` hands every batch to
    the producer and waits for the broker, sending a failed one again until it is
    taken (at least once: a broker that is away holds the generator up, and its debt
    shows as a shortfall of the offered rate)."""

    def __init__(self, producer: Any, topic: str, partitions: int) -> None:
        self._producer = producer
        self._topic = topic
        self._partition_of = PartitionOf(partitions)
        self._open: dict[int, list[tuple[bytes, bytes, Headers]]] = {}

    def add(self, key: bytes, value: bytes, headers: Headers) -> None:
        self._open.setdefault(self._partition_of(key), []).append((key, value, headers))

    def _batches(self, partition: int, records: Sequence[tuple[bytes, bytes, Headers]]) -> Any:
        builder = self._producer.create_batch()
        for i, (key, value, headers) in enumerate(records):
            if builder.append(key=key, value=value, timestamp=None, headers=headers) is None:
                yield builder, records[:i]
                yield from self._batches(partition, records[i:])
                return
        yield builder, records

    async def _submit(self, builder: Any, partition: int) -> Any:
        future = await self._producer.send_batch(builder, self._topic, partition=partition)
        return await future

    async def send(self) -> None:
        pending = [
            (p, builder, records)
            for p, all_records in self._open.items()
            for builder, records in self._batches(p, all_records)
        ]
        self._open = {}
        while pending:
            futures = []
            for partition, builder, _ in pending:
                builder.close()
                futures.append(self._submit(builder, partition))
            results = await asyncio.gather(*futures, return_exceptions=True)
            failed = [
                (partition, records)
                for (partition, _, records), result in zip(pending, results, strict=True)
                if isinstance(result, Exception)
            ]
            if not failed:
                return
            await asyncio.sleep(0.2)
            pending = [
                (partition, builder, rs)
                for partition, records in failed
                for builder, rs in self._batches(partition, records)
            ]


class PlainSink:
    """At-least-once producer for brokers without idempotent producers (tansu): a
    thread with an aiokafka producer; a batch that fails is sent again. For records
    made one at a time (``loadtest.insights_scale``); the load test's generators send
    pre-encoded batches (:class:`BatchSender`)."""

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
    # 1 once a generator has its records encoded and its producer started: the clock
    # starts when every one is ready (the checker waits), so none misses the first steps
    ready: list[Synchronized[int]] = field(default_factory=list)


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
    asyncio.run(_run(cfg, shared, clock))


def pool(cfg: GeneratorConfig, engine: RoutingEngine, now: float) -> list[Template]:
    """The records this generator sends, encoded and routed once."""
    trails = [Trail.from_api(t) for t in cfg.specs]
    if any(t.logging_periods for t in trails):  # routing would then depend on eventTime
        raise ValueError("the load test's trails have no logging periods")
    mix = TrafficMix(cfg.accounts, seed=cfg.seed * 1000 + cfg.index)
    return [template(mix.event(now), engine) for _ in range(POOL)]


async def _start_producer(cfg: GeneratorConfig) -> Any:
    producer = clients.producer(
        cfg.settings, enable_idempotence=not cfg.plain_producer, max_batch_size=BATCH_BYTES
    )
    await producer.start()
    return producer


async def _run(cfg: GeneratorConfig, shared: Shared, clock: Callable[[], float]) -> None:
    engine = RoutingEngine.compile([Trail.from_api(t) for t in cfg.specs], {})
    templates = pool(cfg, engine, clock())
    mix = TrafficMix(cfg.accounts, seed=cfg.seed * 1000 + cfg.index + 500)  # the burst's
    signer = Signer(cfg.settings.producer_key())  # signed like every producer's
    producer = await _start_producer(cfg)
    topic = cfg.settings.topics.api_events
    sender = BatchSender(producer, topic, len(await producer.partitions_for(topic)))
    keys, held = array("Q"), array("Q")
    sent_v, expected_v = shared.sent[cfg.index], shared.expected[cfg.index]
    held_v = shared.held[cfg.index] if shared.held else None
    if shared.ready:
        shared.ready[cfg.index].value = 1
    debt, last = 0.0, time.monotonic()
    started: float | None = None
    turn = 0
    second, stamp = -1, b""

    def expect(event_id: str, deliveries: Sequence[tuple[str, str, str]]) -> None:
        for trail_arn, account, region in deliveries:
            key = delivery_key(event_id, trail_arn, account, region)
            (held if trail_arn in cfg.held_trails else keys).append(key)

    try:
        while not shared.stop.is_set():
            tick = time.monotonic()
            rate = shared.rate.value / cfg.count
            n, debt = owed(debt, rate, tick - last)
            last = tick
            now = clock()
            if int(now) != second:
                second = int(now)
                stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)).encode()
            for _ in range(n):
                t = templates[turn]
                turn = (turn + 1) % len(templates)
                event_id = timed_event_id(now)
                value, route = t.stamped(event_id.encode(), stamp)
                sender.add(t.key, value, signer.headers(t.key, value, route))
                expect(event_id, t.deliveries)
            extra = 0  # the burst's calls, counted apart from the mix
            if cfg.burst is not None and rate:
                started = now if started is None else started
                for event in cfg.burst.events(mix, now - started, now):
                    key, value = event["recipientAccountId"].encode(), encode(event)
                    sender.add(key, value, signer.headers(key, value))
                    expect(
                        event["eventID"],
                        [(d.trail_arn, d.account_id, d.region) for d in engine.route(event)],
                    )
                    extra += 1
                if shared.burst_sent is not None:
                    shared.burst_sent.value = cfg.burst.sent
            await sender.send()
            if n or extra:
                sent_v.value += n
                expected_v.value = len(keys)
                if held_v is not None:
                    held_v.value = len(held)
            await asyncio.sleep(max(0.0, TICK - (time.monotonic() - tick)))
        await asyncio.wait_for(sender.send(), 60)
    finally:
        await producer.stop()
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
