"""What an idle consumer costs on each local broker: fetch requests/s and CPU.

    python -m loadtest.idlefetch [--seconds 5]

A Kafka broker holds a fetch that finds no records for up to ``fetch_max_wait_ms``
(aiokafka's default: 500 ms), so an idle consumer asks about twice a second.
noida-db answers an empty fetch at once, so every idle consumer asks hundreds of
times a second and spends a share of a core doing it. That cost is per consumer,
whatever the load: it is why cost per event grows with the process count on noida-db
(``python -m loadtest.scale --broker noida``) and not on tansu. This prints both
brokers' figures side by side, measured in one run.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import tempfile
import time
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.consumer import fetcher

from recorder.stack.local import LocalStack
from recorder.stack.processes import free_port


async def idle_consumer(
    bootstrap: str, topic: str, partitions: int, seconds: float
) -> tuple[float, float]:
    """(fetch requests/s, CPU % of one core) of a consumer on a topic nobody writes."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    fetches = 0
    original = fetcher.Fetcher._proc_fetch_request

    async def counted(self: object, *args: object, **kwargs: object) -> object:
        nonlocal fetches
        fetches += 1
        return await original(self, *args, **kwargs)

    fetcher.Fetcher._proc_fetch_request = counted  # type: ignore[method-assign]
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(partitions)])
        await asyncio.sleep(1.0)  # settled: positions known, fetching
        fetches = 0
        before, t0 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
        await asyncio.sleep(seconds)
        after, elapsed = resource.getrusage(resource.RUSAGE_SELF), time.monotonic() - t0
    finally:
        fetcher.Fetcher._proc_fetch_request = original  # type: ignore[method-assign]
        await consumer.stop()
    used = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return fetches / elapsed, used / elapsed * 100


def main() -> None:
    ap = argparse.ArgumentParser(
        prog="python -m loadtest.idlefetch", description=__doc__.splitlines()[0]
    )
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args()
    for kind in ("noida", "tansu"):
        with tempfile.TemporaryDirectory() as tmp:
            stack = LocalStack(
                Path(tmp), kafka_port=free_port(), moto_port=free_port(), broker_kind=kind
            )
            stack.start()
            try:
                s = stack.settings()
                rate, pct = asyncio.run(
                    idle_consumer(
                        stack.bootstrap_servers, s.topics.api_events, s.partitions, args.seconds
                    )
                )
            finally:
                stack.stop()
        print(f"{kind:6} idle consumer: {rate:7,.0f} fetch requests/s, {pct:5.1f} % of one core")


if __name__ == "__main__":
    main()
