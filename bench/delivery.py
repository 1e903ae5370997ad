"""Delivery cost per event, measured side by side with its floor in one run.

    python bench/delivery.py [--events 200000] [--destinations 20] [--rounds 3]
                             [--cpu 1] [--profile FILE]

Starts a private local stack, fills ``routed`` with N rendered CloudTrail records
spread over D destinations, then measures, with this process pinned to one core (the
broker and moto run beside it):

* floor  - aiokafka consume + orjson (parse and serialise) + gzip of the same
           records into files of the writer's batch size, with the writer's own
           compressor (``recorder.delivery.logfile.compress``: ISA-L); no S3.
* writer - the real writer service: cut markers, log files (gzip), S3 put (moto over
           HTTP), manifests, commits; timed until every record is in a delivered file.

Floor and writer run alternately ``--rounds`` times (each writer round a fresh
consumer group over the same records, writing the same objects again); the best of
each is printed, since on a shared machine the slower runs measure the neighbours,
and each round's writer/floor with their median (:mod:`bench.compare`). Prints events
per second of elapsed time and the CPU cost per event of this process (µs per event,
and events per CPU-second), and ``writer/floor``, the ratio of
events per CPU-second: what the core gives each, whatever the neighbours take.
Target (issue 4): >= 0.5. ``--profile FILE`` writes a cProfile of the writer rounds.
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

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.compare import Rate, report
from loadtest.trails import log_bucket
from recorder.delivery.logfile import compress
from recorder.delivery.target import DeliveryTarget
from recorder.delivery.writer import Writer
from recorder.kafka import clients
from recorder.services.memory import tune_collector
from recorder.stack.local import LocalStack
from recorder.stack.processes import free_port
from recorder.trails.destination import Destination

BUCKET = "bench-logs"


def make_record(i: int, account: str) -> dict[str, object]:
    return {
        "eventVersion": "1.05",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDAJ45Q7YFFAREXAMPLE",
            "arn": f"arn:aws:iam::{account}:user/Alice",
            "accountId": account,
            "accessKeyId": "AKIAIOSFODNN7EXAMPLE",
            "userName": "Alice",
        },
        "eventTime": f"2026-11-25T06:{i // 60 % 60:02d}:{i % 60:02d}Z",
        "eventSource": "s3.amazonaws.com",
        "eventName": "PutObject",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "192.0.2.10",
        "userAgent": "aws-sdk-java/1.11.0",
        "requestParameters": {"bucketName": "app-data", "key": f"reports/{i}.csv"},
        "responseElements": None,
        "requestID": uuid.uuid4().hex[:16].upper(),
        "eventID": str(uuid.uuid4()),
        "readOnly": False,
        "resources": [
            {"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::app-data/reports/{i}.csv"},
            {"accountId": account, "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::app-data"},
        ],
        "eventType": "AwsApiCall",
        "managementEvent": False,
        "recipientAccountId": account,
        "eventCategory": "Data",
    }


async def fill(stack: LocalStack, n: int, destinations: int) -> int:
    producer = clients.producer(stack.settings(), linger_ms=20)
    await producer.start()
    total = 0
    try:
        futures = []
        for i in range(n):
            account = f"{100000000000 + i % destinations:012d}"
            dest = Destination(
                f"arn:aws:cloudtrail:us-east-1:{account}:trail/t", account, "us-east-1"
            )
            rec = make_record(i, account)
            value = orjson.dumps(rec)
            total += len(value)
            headers = [
                ("eventTime", str(rec["eventTime"]).encode()),
                ("eventID", str(rec["eventID"]).encode()),
            ]
            futures.append(await producer.send("routed", value, key=dest.key(), headers=headers))
            if len(futures) >= 5000:
                await asyncio.gather(*futures)
                futures.clear()
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return total


async def floor(stack: LocalStack, n: int, batch: int) -> Rate:
    consumer = AIOKafkaConsumer(
        "routed",
        bootstrap_servers=stack.bootstrap_servers,
        group_id=f"floor-{uuid.uuid4()}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    seen = 0
    pending: dict[bytes, list[object]] = {}
    start, cpu = time.perf_counter(), time.process_time()
    try:
        while seen < n:
            got = await consumer.getmany(timeout_ms=500, max_records=5000)
            for msgs in got.values():
                for m in msgs:
                    pending.setdefault(m.key or b"", []).append(orjson.loads(m.value))
                    seen += 1
            for key, recs in list(pending.items()):
                if len(recs) >= batch or seen >= n:
                    compress(orjson.dumps({"Records": recs}))
                    del pending[key]
    finally:
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        await consumer.stop()
    return Rate(n / elapsed, n / cpu)


async def writer_rate(stack: LocalStack, n: int, batch: int, group: str) -> Rate:
    settings = stack.settings(cut_interval=2.0, batch_max_records=batch, metrics_port=free_port())
    writer = Writer(settings, lambda arn: DeliveryTarget(bucket=BUCKET), group_id=group)
    stop = asyncio.Event()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=stack.bootstrap_servers, group_id=None, enable_auto_commit=False
    )
    await consumer.start()
    # this round's manifests only: read from the end as it is before the writer starts
    await consumer.topics()  # metadata, so the partitions are known
    parts = consumer.partitions_for_topic("delivered") or set()
    tps = [TopicPartition("delivered", p) for p in sorted(parts)]
    consumer.assign(tps)
    for tp, end in (await consumer.end_offsets(tps)).items():
        consumer.seek(tp, end)
    start, cpu = time.perf_counter(), time.process_time()
    task = asyncio.create_task(writer.run(stop))
    delivered = 0
    keys: set[str] = set()
    last_report = start
    try:
        while delivered < n:
            got = await consumer.getmany(timeout_ms=500)
            for msgs in got.values():
                for m in msgs:
                    manifest = orjson.loads(m.value)
                    if manifest["key"] not in keys:
                        keys.add(manifest["key"])
                        delivered += manifest["recordCount"]
            if time.perf_counter() - last_report > 5:
                last_report = time.perf_counter()
                print(f"  writer: {delivered}/{n} records in {len(keys)} files", file=sys.stderr)
            if task.done():
                task.result()
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    finally:
        stop.set()
        await asyncio.gather(task, return_exceptions=True)
        await consumer.stop()
    return Rate(n / elapsed, n / cpu)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--destinations", type=int, default=20)
    ap.add_argument("--batch", type=int, default=10_000, help="records per file (size bound)")
    ap.add_argument("--cpu", type=int, default=1, help="core to pin this process to")
    ap.add_argument("--rounds", type=int, default=3, help="floor and writer runs, alternated")
    ap.add_argument("--profile", type=Path, help="write a cProfile of the writer runs here")
    args = ap.parse_args()
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
            import boto3

            log_bucket(boto3.client("s3", **stack.settings().aws_client_kwargs()), BUCKET)
            os.sched_setaffinity(0, {args.cpu})  # after the stack: broker and moto run apart
            # the collector as a service process runs it (recorder.services.memory)
            tune_collector(stack.settings().gc_threshold)
            print(
                f"filling routed with {args.events} records over {args.destinations} destinations ...",
                file=sys.stderr,
            )
            size = asyncio.run(fill(stack, args.events, args.destinations))
            print(f"  {size / args.events:.0f} bytes/record", file=sys.stderr)
            floors: list[Rate] = []
            rates: list[Rate] = []
            profiler = cProfile.Profile() if args.profile else None
            for i in range(args.rounds):
                floors.append(asyncio.run(floor(stack, args.events, args.batch)))
                if profiler is not None:
                    profiler.enable()
                rates.append(
                    asyncio.run(writer_rate(stack, args.events, args.batch, f"bench-writer-{i}"))
                )
                if profiler is not None:
                    profiler.disable()
                print(
                    f"  round {i + 1}: floor {floors[-1].wall:,.0f}/s "
                    f"({floors[-1].cpu:,.0f}/cpu-s), writer {rates[-1].wall:,.0f}/s "
                    f"({rates[-1].cpu:,.0f}/cpu-s)",
                    file=sys.stderr,
                )
            if profiler is not None:
                profiler.dump_stats(args.profile)
                pstats.Stats(str(args.profile)).sort_stats("tottime").print_stats(25)
        finally:
            stack.stop()
    print()
    print(f"{args.events} events, {args.destinations} destinations, core {args.cpu}")
    # Best of each (the slower runs measure the neighbours) and the rounds' paired ratios.
    report(
        floors,
        rates,
        floor_label="floor (consume + orjson + gzip, no S3)",
        label="writer (markers, gzip, S3 put, commit)",
        name="writer",
        target=">= 0.5",
        width=44,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
