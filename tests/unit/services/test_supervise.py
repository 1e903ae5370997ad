"""Supervision: restart with backoff, count, report; only a lone stage gives up."""

from __future__ import annotations

import asyncio

import pytest

from recorder.obs.metrics import Metrics
from recorder.services.supervise import RestartPolicy, ServiceGaveUp, Supervisor


def test_backoff_doubles_up_to_its_cap() -> None:
    p = RestartPolicy(backoff=1.0, backoff_max=10.0, max_restarts=3)
    assert [p.delay(n) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_only_a_lone_stage_gives_up_and_a_healthy_run_resets_the_count() -> None:
    p = RestartPolicy(max_restarts=3, healthy_after=60.0)
    assert not p.gives_up(3, alone=True)
    assert p.gives_up(4, alone=True)
    assert not p.gives_up(1000, alone=False)  # `run all`: the others keep running
    assert p.failures_after(3, ran_for=1.0) == 4
    assert p.failures_after(3, ran_for=61.0) == 1


def _restarts(metrics: Metrics, name: str) -> float:
    return metrics.service_restarts.labels(name)._value.get()


async def test_a_failing_service_is_restarted_counted_and_named_while_failing() -> None:
    stop = asyncio.Event()
    metrics = Metrics()
    sup = Supervisor(RestartPolicy(backoff=0.01, max_restarts=1), metrics, stop, settle=0.05)
    runs = 0
    seen_failing: list[dict[str, str]] = []
    fourth_run = asyncio.Event()

    async def flaky() -> None:
        nonlocal runs
        runs += 1
        seen_failing.append(sup.failing())
        if runs <= 3:
            raise OSError(f"port taken ({runs})")
        fourth_run.set()
        await stop.wait()

    task = asyncio.create_task(sup.supervise("api", flaky, alone=False))
    await asyncio.wait_for(fourth_run.wait(), 10)
    assert seen_failing[-1] == {"api": "OSError: port taken (3)"}
    assert _restarts(metrics, "api") == 3
    await asyncio.sleep(0.1)  # longer than `settle`
    assert sup.failing() == {}  # up for longer than `settle`: recovered
    stop.set()
    await task


async def test_a_lone_stage_gives_up_after_max_restarts() -> None:
    stop = asyncio.Event()
    metrics = Metrics()
    sup = Supervisor(RestartPolicy(backoff=0.01, max_restarts=2), metrics, stop)

    async def broken() -> None:
        raise RuntimeError("no broker")

    with pytest.raises(ServiceGaveUp, match="digester failed 3 times in a row"):
        await sup.supervise("digester", broken, alone=True)
    assert _restarts(metrics, "digester") == 2
