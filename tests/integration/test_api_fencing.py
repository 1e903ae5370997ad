"""Issue 27 acceptance, item 4: fenced leases. A replica paused between its checks and
its write, whose send lands after its lease ran out and another replica was granted
it, makes no duplicate trail name and no sixth trail in a region.

Replica A is the control API's own store and handlers (``RegistryStore``,
``Operations``) in this process, on the real broker and moto, with its producer's
trail writes held back (a paused process, a send waiting out the producer's request
time-out): it takes the account's lease, checks, and its write lands
``DELAY`` seconds later. Replica B is ``recorder run api`` answering boto3 at the same
time: it waits out A's lease (3 s here; 15 by default), is granted, writes and
releases. A's write lands then, with its old lease epoch: every reader of `trails`
ignores it, A writes the accepted document again (so compaction cannot keep the stale
one) and answers ``ConflictException``. B, A's own registry, and a replica C started
afterwards from the log all show one trail of the name, with B's bucket, and five
trails in the region.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from recorder.api.auth import Principal
from recorder.api.checks import AwsResourceChecks
from recorder.api.operations import Caller, Operations
from recorder.api.protocol import ApiError
from recorder.api.store import RegistryStore
from recorder.kafka import clients
from recorder.services.registry import TrailRegistry
from recorder.stack.local import LocalStack
from recorder.stack.processes import free_port
from tests.integration.helpers import RecorderProcess, aws, cloudtrail_bucket, wait_until_async
from tests.integration.test_api import ALICE, REGION, cloudtrail, credentials_file

pytestmark = pytest.mark.integration

LEASE = 3  # seconds
DELAY = 3 * LEASE  # A's write lands this long after its checks


class HeldBackSends:
    """A real producer whose trail writes leave ``DELAY`` seconds late (leases go at once)."""

    def __init__(self, producer: Any) -> None:
        self._producer = producer
        self.holding = asyncio.Event()

    async def send_and_wait(self, topic: str, value: Any, *, key: bytes, **kw: Any) -> Any:
        if not key.startswith(b"lease/"):
            self.holding.set()
            await asyncio.sleep(DELAY)
            self.holding.clear()
        return await self._producer.send_and_wait(topic, value, key=key, **kw)


def _api(stack: LocalStack, work: Path) -> tuple[RecorderProcess, int]:
    port = free_port()
    work.mkdir(parents=True, exist_ok=True)
    proc = RecorderProcess(
        stack,
        ["api"],
        work,
        env={
            "RECORDER_API_PORT": str(port),
            "RECORDER_API_CREDENTIALS_FILE": str(credentials_file(work / "credentials.json")),
            "RECORDER_API_LEASE_SECONDS": str(LEASE),
        },
    ).start()
    return proc, port


def _outcome(call: Any, **params: Any) -> str:
    try:
        call(**params)
        return "OK"
    except ClientError as exc:
        return str(exc.response["Error"]["Code"])


async def test_a_paused_replicas_late_write_makes_no_duplicate_and_no_sixth_trail(
    stack: LocalStack, tmp_path: Path
) -> None:
    s3 = aws(stack, "s3")
    for bucket in ("fence-a", "fence-b"):
        cloudtrail_bucket(s3, bucket)
    b_proc, b_port = _api(stack, tmp_path / "b")
    b = cloudtrail(b_port)
    settings = stack.settings()
    registry = await TrailRegistry.start(settings)
    stop = asyncio.Event()
    following = asyncio.create_task(registry.follow(stop, paced=False))
    producer = clients.producer(settings, linger_ms=0)
    await producer.start()
    held = HeldBackSends(producer)
    checks = AwsResourceChecks(settings)
    a = Operations(
        store=RegistryStore(settings, registry, held, lease_ms=LEASE * 1000), checks=checks
    )
    alice = Caller(Principal("testing", ALICE), REGION, "fencing")
    c_proc = None
    try:

        async def race(a_name: str, b_name: str) -> tuple[str, str]:
            """A creates ``a_name`` (held back), B ``b_name`` meanwhile."""
            params = {"Name": a_name, "S3BucketName": "fence-a"}
            a_call = asyncio.create_task(a.dispatch("CreateTrail", alice, params))
            await wait_until_async(held.holding.is_set, 30, 0.05, message="A's write held")
            b_result = await asyncio.to_thread(
                _outcome, b.create_trail, Name=b_name, S3BucketName="fence-b"
            )
            try:
                await a_call
                a_result = "OK"
            except ApiError as exc:
                a_result = exc.code
            return a_result, b_result

        # the same name through both replicas at once
        assert await race("dup", "dup") == ("ConflictException", "OK")
        for name in ("one", "two", "three"):
            assert _outcome(b.create_trail, Name=name, S3BucketName="fence-b") == "OK"
        # four trails in the region: A's fifth and B's fifth at once
        assert await race("five-a", "five-b") == ("ConflictException", "OK")

        c_proc, c_port = _api(stack, tmp_path / "c")  # a reader from the log's start
        await registry.fresh()
        for port in (b_port, c_port):
            trails = cloudtrail(port).describe_trails(includeShadowTrails=False)["trailList"]
            assert sorted(t["Name"] for t in trails) == ["dup", "five-b", "one", "three", "two"]
            assert {t["S3BucketName"] for t in trails} == {"fence-b"}
        assert sorted(t.name for t in registry.trails.of_account(ALICE)) == [
            "dup",
            "five-b",
            "one",
            "three",
            "two",
        ]
        assert registry.dangling == {}  # A wrote the accepted documents again
        assert "trail_write_fenced" in c_proc.log_text()
    finally:
        stop.set()
        await asyncio.gather(following, return_exceptions=True)
        with contextlib.suppress(Exception):
            await checks.close()
        await producer.stop()
        await registry.close()
        b_proc.stop()
        if c_proc is not None:
            c_proc.stop()
