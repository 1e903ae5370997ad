"""Router throughput, measured side by side with its floor in one run.

    python bench/router.py [--events 20000] [--trails 20] [--cpu 1] [--profile FILE]

Starts a private local stack (noida-db), fills ``api-events`` with N Avro events of
the load test's traffic mix (``loadtest.traffic``) whose accounts own T trails, then
measures, with this process pinned to one core (the broker runs beside it):

* floor  - aiokafka consume of ``api-events`` + produce of the same bytes to a scratch
           topic + offset commit, batch by batch; no processing at all.
* router - the real router service (``recorder.routing.service.Router``): consume,
           admit (signature, accounts) and route on the signed routing fields,
           decode and validate the events some trail selects, render, produce
           ``routed``, commit (in a transaction with ``--transactions``), timed
           from its first poll (as the floor, from its clients' start) until its
           committed offsets reach the end of ``api-events``.

Floor and router run alternately ``--rounds`` times (each router round as a fresh
consumer group over the same records); the best of each is printed, since on a shared
machine the slower runs measure the neighbours, and each round's router/floor with
their median (:mod:`bench.compare`: a pair shares the host's speed of its minute, so
the median is the figure to quote when the host drifts). Prints, for both, events per
second of elapsed time, events per CPU-second of this process and its cost (µs of CPU
per event), and on the last line ``router/floor = X.XX``, the ratio per CPU-second
(target, issue 29: >= 0.8): on a quiet machine, where each is CPU-bound on its
core, the two ratios agree; on a busy one the elapsed-time figures measure the
neighbours as much as the router. ``--profile FILE`` writes a cProfile of the router
rounds. Transactions follow the production default
(``RECORDER_ROUTER_TRANSACTIONS``, off); ``--transactions`` turns them on.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import sys
import tempfile
import time
import uuid
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.compare import Rate, report
from loadtest.traffic import TrafficMix, account_ids, trail_set
from recorder.events import encode
from recorder.kafka import clients
from recorder.obs.metrics import Metrics
from recorder.provenance.signature import Signer
from recorder.routing import RoutingEngine
from recorder.routing.service import Router
from recorder.services.memory import tune_collector
from recorder.stack.local import LocalStack
from recorder.stack.processes import free_port
from recorder.trails import Trail

SCRATCH = "bench-floor-out"


async def fill(stack: LocalStack, n: int, accounts: list[str]) -> int:
    """N events keyed by recipient account, as the producer sends them; returns bytes."""
    settings = stack.settings()
    producer = clients.producer(settings, linger_ms=20)
    await producer.start()
    mix = TrafficMix(accounts)
    signer = Signer(settings.producer_key())
    total = 0
    try:
        futures = []
        for _ in range(n):
            record = mix.event()
            value = encode(record)
            total += len(value)
            key = record["recipientAccountId"].encode()
            headers = signer.headers(key, value)
            futures.append(
                await producer.send(settings.topics.api_events, value, key=key, headers=headers)
            )
            if len(futures) >= 5000:
                await asyncio.gather(*futures)
                futures.clear()
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return total


async def floor(stack: LocalStack, n: int) -> Rate:
    """Consume + produce the same bytes + commit: what the router cannot beat."""
    settings = stack.settings()
    consumer = AIOKafkaConsumer(
        settings.topics.api_events,
        bootstrap_servers=stack.bootstrap_servers,
        group_id=f"floor-{uuid.uuid4()}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=2000,
    )
    producer = clients.producer(settings)
    await producer.start()
    await consumer.start()
    await producer.partitions_for(SCRATCH)
    seen = 0
    start, cpu = time.perf_counter(), time.process_time()
    try:
        while seen < n:
            got = await consumer.getmany(timeout_ms=200, max_records=2000)
            if not got:
                continue
            futures = []
            for msgs in got.values():
                for m in msgs:
                    futures.append(await producer.send(SCRATCH, m.value, key=m.key))
                    seen += 1
            await asyncio.gather(*futures)
            await consumer.commit(
                {tp: OffsetAndMetadata(msgs[-1].offset + 1, "") for tp, msgs in got.items()}
            )
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    finally:
        await consumer.stop()
        await producer.stop()
    return Rate(n / elapsed, n / cpu)


async def router_rate(
    stack: LocalStack, n: int, engine: RoutingEngine, group: str, transactions: bool
) -> tuple[Rate, int]:
    settings = stack.settings(metrics_port=free_port(), router_transactions=transactions)
    metrics = Metrics()
    router = Router(settings, lambda: engine, metrics=metrics, group_id=group)
    tps = [TopicPartition(settings.topics.api_events, p) for p in range(stack.partitions)]
    watcher = AIOKafkaConsumer(
        bootstrap_servers=stack.bootstrap_servers, group_id=group, enable_auto_commit=False
    )
    await watcher.start()
    ends = await watcher.end_offsets(tps)
    stop = asyncio.Event()
    task = asyncio.create_task(router.run(stop))
    try:
        # Timed from the router's first poll, as the floor is timed from its clients'
        # start: joining, assigning and starting clients are no cost per event.
        while not router.ready.is_set():
            await asyncio.sleep(0.01)
            if task.done():
                task.result()
        start, cpu = time.perf_counter(), time.process_time()
        # Watched through the router's own counter until it has read every record, and
        # only then through the broker (a committed-offsets request every 0.1 s is CPU
        # of this process that the floor does not spend).
        while metrics.router_events_in._value.get() < n:
            await asyncio.sleep(0.02)
            if task.done():
                task.result()
        while True:
            committed = [await watcher.committed(tp) or 0 for tp in tps]
            if all(c >= ends[tp] for c, tp in zip(committed, tps, strict=True)):
                break
            await asyncio.sleep(0.01)
            if task.done():
                task.result()
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    finally:
        stop.set()
        await asyncio.gather(task, return_exceptions=True)
        await watcher.stop()
    return Rate(n / elapsed, n / cpu), int(metrics.router_deliveries_out._value.get())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument("--trails", type=int, default=20)
    ap.add_argument("--accounts", type=int, default=10)
    ap.add_argument("--cpu", type=int, default=1, help="core to pin this process to")
    ap.add_argument("--rounds", type=int, default=3, help="floor and router runs, alternated")
    ap.add_argument("--profile", type=Path, help="write a cProfile of the router runs here")
    ap.add_argument("--transactions", action="store_true", help="route in transactions")
    args = ap.parse_args()
    accounts = account_ids(args.accounts)
    trails = [Trail.from_api(t) for t in trail_set(accounts, args.trails)]
    with tempfile.TemporaryDirectory() as tmp:
        # every round reads the same records again: nothing is deleted behind the commits
        stack = LocalStack(
            Path(tmp),
            kafka_port=free_port(),
            moto_port=free_port(),
            partitions=4,
            retention_margin=None,
        )
        stack.start()
        try:
            os.sched_setaffinity(0, {args.cpu})  # after the stack: the broker runs apart
            # the collector as a service process runs it (recorder.services.memory)
            tune_collector(stack.settings().gc_threshold)
            print(f"filling api-events with {args.events} events ...", file=sys.stderr)
            size = asyncio.run(fill(stack, args.events, accounts))
            print(f"  {size / args.events:.0f} bytes/event (Avro)", file=sys.stderr)
            floors: list[Rate] = []
            rates: list[Rate] = []
            profiler = cProfile.Profile() if args.profile else None
            for i in range(args.rounds):
                floors.append(asyncio.run(floor(stack, args.events)))
                if profiler is not None:
                    profiler.enable()
                # a fresh engine each round, as a router starts with: the engine's memos
                # (e.g. of where each distinct selector view goes) begin empty, and a
                # round's records are not known to it from the last round
                engine = RoutingEngine.compile(trails, {})
                rate, deliveries = asyncio.run(
                    router_rate(stack, args.events, engine, f"bench-router-{i}", args.transactions)
                )
                if profiler is not None:
                    profiler.disable()
                rates.append(rate)
                print(
                    f"  round {i + 1}: floor {floors[-1].wall:,.0f}/s "
                    f"({floors[-1].cpu:,.0f}/cpu-s), router {rate.wall:,.0f}/s "
                    f"({rate.cpu:,.0f}/cpu-s)",
                    file=sys.stderr,
                )
            if profiler is not None:
                profiler.dump_stats(args.profile)
                pstats.Stats(str(args.profile)).sort_stats("tottime").print_stats(25)
        finally:
            stack.stop()
    print()
    print(f"{args.events} events, {args.trails} trails, {deliveries} deliveries, core {args.cpu}")
    # Best of each (the slower runs measure the neighbours) and the rounds' paired ratios.
    report(
        floors,
        rates,
        floor_label="floor (consume + produce same bytes + commit)",
        label="router (admit, route, decode selected, render, produce)",
        name="router",
        target=">= 0.8 on a quiet machine",
        width=52,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
