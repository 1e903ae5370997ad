"""The one retry policy: its schedule, what it retries, and the loops around it.

Plain data in, plain data out: the loops take their clock and sleep as parameters,
so no test here waits.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

import pytest
from aiokafka.errors import KafkaConnectionError
from botocore.exceptions import ClientError, EndpointConnectionError

from recorder.retry import (
    BROKER_LOOP,
    OWN_BROKER,
    Backoff,
    FailureStreak,
    backoff_ceiling,
    retry_async,
    retry_delay,
    retry_sync,
    transient,
)


def client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "ListTrails"
    )


class FakeTime:
    """A clock that moves only when the loop sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.pauses: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)


def failing(
    times: int, exc: BaseException, result: str = "ok"
) -> tuple[list[int], Callable[[], str]]:
    calls: list[int] = []

    def op() -> str:
        calls.append(1)
        if len(calls) <= times:
            raise exc
        return result

    return calls, op


def test_the_ceiling_doubles_from_base_up_to_the_cap() -> None:
    assert [backoff_ceiling(n, base=0.1, cap=1.0) for n in range(1, 7)] == [
        0.1,
        0.2,
        0.4,
        0.8,
        1.0,
        1.0,
    ]


def test_jitter_stays_in_the_upper_half_of_the_ceiling_and_varies() -> None:
    rng = random.Random(3)
    for n in range(1, 20):
        ceiling = backoff_ceiling(n, base=0.5, cap=8.0)
        for _ in range(50):
            assert ceiling / 2 <= retry_delay(n, base=0.5, cap=8.0, rng=rng) <= ceiling
    assert len({retry_delay(10, base=0.5, cap=8.0, rng=rng) for _ in range(20)}) > 1


def test_never_past_the_cap() -> None:
    rng = random.Random(5)
    assert max(OWN_BROKER.next_delay(n, 0.0, rng) or 0 for n in range(1, 200)) <= 10.0
    assert max(BROKER_LOOP.next_delay(n, 0.0, rng) or 0 for n in range(1, 200)) <= 10.0


def test_give_up_after_ends_the_schedule_and_cuts_the_last_pause() -> None:
    policy = Backoff(base=1.0, cap=4.0, give_up_after=10.0)
    assert policy.next_delay(5, elapsed=9.5) == 0.5  # not past the deadline
    assert policy.next_delay(5, elapsed=10.0) is None
    assert Backoff(base=1.0, cap=4.0).next_delay(50, elapsed=1e9) is not None  # never


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (KafkaConnectionError(), True),
        (ConnectionRefusedError(), True),
        (TimeoutError(), True),
        (EndpointConnectionError(endpoint_url="http://x"), True),
        (client_error("ServiceUnavailable", 503), True),
        (client_error("ThrottlingException", 400), True),
        (client_error("AccessDenied", 403), False),
        (client_error("UnrecognizedClientException", 403), False),
        (ValueError("a bug"), False),
    ],
)
def test_what_is_transient(exc: BaseException, expected: bool) -> None:
    assert transient(exc) is expected


def test_retry_sync_retries_transient_failures_on_the_schedule() -> None:
    t = FakeTime()
    calls, op = failing(3, KafkaConnectionError())
    heard: list[float] = []
    result = retry_sync(
        op,
        Backoff(base=1.0, cap=3.0),
        on_retry=lambda exc, delay: heard.append(delay),
        sleep=t.sleep,
        clock=t.clock,
        rng=random.Random(1),
    )
    assert result == "ok" and len(calls) == 4
    assert heard == t.pauses and len(t.pauses) == 3
    for n, pause in enumerate(t.pauses, start=1):
        ceiling = backoff_ceiling(n, base=1.0, cap=3.0)
        assert ceiling / 2 <= pause <= ceiling


def test_retry_sync_raises_a_permanent_failure_at_once() -> None:
    t = FakeTime()
    calls, op = failing(5, client_error("AccessDenied", 403))
    with pytest.raises(ClientError):
        retry_sync(op, Backoff(base=1.0, cap=3.0), sleep=t.sleep, clock=t.clock)
    assert len(calls) == 1 and t.pauses == []


def test_retry_sync_gives_up_with_the_last_failure_at_the_deadline() -> None:
    t = FakeTime()
    calls, op = failing(1000, ConnectionRefusedError("still starting"))
    with pytest.raises(ConnectionRefusedError, match="still starting"):
        retry_sync(
            op,
            Backoff(base=0.5, cap=2.0, give_up_after=10.0),
            sleep=t.sleep,
            clock=t.clock,
            rng=random.Random(2),
        )
    assert sum(t.pauses) == pytest.approx(10.0)  # waited exactly up to the deadline
    assert len(calls) == len(t.pauses) + 1


def test_retry_async_waits_out_our_own_broker() -> None:
    t = FakeTime()
    calls, op = failing(12, KafkaConnectionError())

    async def aop() -> str:
        return op()

    result = asyncio.run(retry_async(aop, OWN_BROKER, sleep=t.asleep, clock=t.clock))
    assert result == "ok" and len(calls) == 13
    assert max(t.pauses) <= 10.0 and min(t.pauses) >= 0.05


def test_a_streak_grows_and_starts_over_after_a_success() -> None:
    rng = random.Random(4)
    streak = FailureStreak(Backoff(base=1.0, cap=10.0))
    pauses = [streak.failed(rng) for _ in range(6)]
    assert 0.5 <= pauses[0] <= 1.0 and 5.0 <= pauses[5] <= 10.0
    streak.succeeded()
    assert streak.count == 0 and 0.5 <= streak.failed(rng) <= 1.0
