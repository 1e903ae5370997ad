"""Issue 7 acceptance: SIGTERM to a writer with open batches puts them all in S3.

A real ``recorder run router`` and ``recorder run writer`` run on the local stack
with a cut interval far longer than the test, so every batch is still open when the
writer is told to stop. After SIGTERM the writer must exit 0, having cut, written and
committed every batch; a writer started afterwards must find nothing left to deliver.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import boto3
import pytest
from aiokafka import TopicPartition

from loadtest.crash import produce, read_all
from loadtest.traffic import TrafficMix, account_ids, trail_set
from loadtest.trails import install_trails
from recorder.kafka import clients
from recorder.kafka.partitions import read_range
from recorder.kafka.watermarks import is_watermark
from recorder.stack.local import LocalStack
from tests.integration.helpers import RecorderProcess, holds_for, wait_for

pytestmark = pytest.mark.integration

EVENTS = 3_000


async def committed_and_needed(
    stack: LocalStack, group: str
) -> tuple[dict[int, int], dict[int, int]]:
    """The group's committed offsets, and per partition the offset just past the last
    routed record (the routers' watermarks that follow it need no delivery: a writer
    stopped before it read them may leave them to its successor)."""
    consumer = clients.consumer(stack.settings(), group_id=group)
    await consumer.start()
    try:
        tps = [TopicPartition("routed", p) for p in range(stack.partitions)]
        ends = await consumer.end_offsets(tps)
        committed = {tp.partition: (await consumer.committed(tp)) or 0 for tp in tps}
    finally:
        await consumer.stop()
    needed = dict.fromkeys(committed, 0)
    for tp in tps:
        async for m in read_range(stack.settings(), tp, 0, ends[tp]):
            if not is_watermark(m.headers):
                needed[tp.partition] = m.offset + 1
    return committed, needed


def test_sigterm_delivers_every_open_batch_and_commits(stack: LocalStack, tmp_path: Path) -> None:
    kw = stack.settings().aws_client_kwargs()
    s3 = boto3.client("s3", **kw)
    accounts = account_ids(3)
    trails = install_trails(s3, trail_set(accounts, 4), tmp_path)
    buckets = trails.buckets

    mix = TrafficMix(accounts, seed=3)
    events = [mix.event() for _ in range(EVENTS)]
    expected = trails.expected_all(events)
    destinations = {(d[1], d[2], d[3]) for d in expected}
    # far longer than the test: nothing is cut on time, only by the drain
    env = {"RECORDER_TRAILS_FILE": str(trails.trails_file), "RECORDER_CUT_INTERVAL": "900"}
    router = RecorderProcess(stack, ["router"], tmp_path / "router", env=env).start()
    writer = RecorderProcess(stack, ["writer"], tmp_path / "writer", env=env).start()
    try:
        asyncio.run(produce(stack, events, rate=5_000))
        wait_for(
            lambda: writer.metric("recorder_writer_records_in_total") >= len(expected),
            timeout=60,
            what=f"the writer to consume all {len(expected)} routed records",
        )
        open_batches = writer.metric("recorder_writer_open_batches")
        _, files_before = read_all(s3, buckets)
        assert files_before == 0, "a batch was cut before SIGTERM: the test proves nothing"
        assert open_batches == len(destinations)

        # The drain is bounded by max(10 s, cut interval / 10) = 90 s here; stop()
        # SIGKILLs after 60 s, which would show as -9 instead of a clean exit.
        started = time.monotonic()
        code = writer.stop(timeout=60)
        print(f"writer drained and exited in {time.monotonic() - started:.1f} s")
        assert code == 0

        seen, files = read_all(s3, buckets)
        assert set(seen) == expected
        assert all(count == 1 for count in seen.values())
        # one file per destination: the drain cut each open batch once
        assert files == len(destinations)
        per_destination = Counter((trail, acct, region) for _, trail, acct, region in seen)
        assert sum(per_destination.values()) == len(expected)

        committed, needed = asyncio.run(committed_and_needed(stack, "recorder-writer"))
        assert all(committed[p] >= needed[p] > 0 for p in needed), (
            f"the drain did not commit everything it delivered: {committed} < {needed}"
        )

        # a new writer replays nothing: no file is written twice or anew
        again = RecorderProcess(stack, ["writer"], tmp_path / "again", env=env).start()
        try:
            holds_for(
                lambda: again.metric("recorder_writer_records_in_total") == 0,
                3,
                message="the new writer reads no record",
            )
            assert again.metric("recorder_writer_records_in_total") == 0
        finally:
            assert again.stop(timeout=60) == 0
        seen_after, files_after = read_all(s3, buckets)
        assert files_after == files and seen_after == seen
    finally:
        writer.kill()
        router.kill()
