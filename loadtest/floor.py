"""The broker's own floor: how fast it moves the load test's events with no processing.

One process produces N encoded events of the load test's mix (encoded before the
clock starts) to a scratch topic as fast as aiokafka allows (acks=all, like the
producer's sink), while another consumes them. The floor is N over the time from
the first send to the last record consumed. Measured in the same run as the
capacity it is compared with, on the same broker and machine, so the ratio
between them is about the recorder, not about the day's noise.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic, RecordsToDelete
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from loadtest.traffic import TrafficMix
from recorder.events import encode
from recorder.kafka import clients
from recorder.settings import Settings

TOPIC = "loadtest-floor"


async def _drop(settings: Settings) -> None:
    """The scratch records deleted once measured: a broker that saves everything it
    holds (noida-db) would otherwise carry them through the whole load test."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    await admin.start()
    try:
        ends = {TopicPartition(TOPIC, p): RecordsToDelete(-1) for p in range(settings.partitions)}
        with contextlib.suppress(KafkaError):
            await admin.delete_records(ends)
    finally:
        await admin.close()


async def _create(settings: Settings) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    await admin.start()
    try:
        with contextlib.suppress(TopicAlreadyExistsError):
            await admin.create_topics([NewTopic(TOPIC, settings.partitions, 1)])
    finally:
        await admin.close()


def _produce(settings: Settings, accounts: list[str], n: int, out: Any) -> None:
    mix = TrafficMix(accounts, seed=99)
    records = []
    for _ in range(n):
        e = mix.event()
        records.append((e["recipientAccountId"].encode(), encode(e)))

    async def go() -> None:
        producer = clients.producer(settings)
        await producer.start()
        await producer.partitions_for(TOPIC)
        out.put(("ready", time.time()))
        try:
            start = time.time()
            futures = []
            for key, value in records:
                futures.append(await producer.send(TOPIC, value, key=key))
                if len(futures) >= 2000:
                    await asyncio.gather(*futures)
                    futures.clear()
            await asyncio.gather(*futures)
            out.put(("produced", start, time.time()))
        finally:
            await producer.stop()

    asyncio.run(go())


def _consume(settings: Settings, n: int, out: Any) -> None:
    async def go() -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False
        )
        await consumer.start()
        try:
            parts = [TopicPartition(TOPIC, p) for p in range(settings.partitions)]
            consumer.assign(parts)
            await consumer.seek_to_beginning(*parts)
            out.put(("ready", time.time()))
            got = 0
            while got < n:
                batch = await consumer.getmany(timeout_ms=200, max_records=5000)
                got += sum(len(v) for v in batch.values())
            out.put(("consumed", time.time()))
        finally:
            await consumer.stop()

    asyncio.run(go())


def measure(settings: Settings, accounts: list[str], n: int = 50_000) -> dict[str, float]:
    """Events/s the broker moves produce -> consume, each side its own process."""
    asyncio.run(_create(settings))
    ctx = multiprocessing.get_context("spawn")
    cq, pq = ctx.Queue(), ctx.Queue()
    consumer = ctx.Process(target=_consume, args=(settings, n, cq), daemon=True)
    consumer.start()
    cq.get(timeout=60)
    producer = ctx.Process(target=_produce, args=(settings, accounts, n, pq), daemon=True)
    producer.start()
    try:
        pq.get(timeout=120)
        _, start, produced = pq.get(timeout=300)
        _, consumed = cq.get(timeout=300)
    finally:
        for p in (producer, consumer):
            p.join(10)
            if p.is_alive():
                p.kill()
        asyncio.run(_drop(settings))
    return {
        "events": float(n),
        "produce events/s": n / (produced - start),
        "floor events/s": n / (consumed - start),
    }
