"""Which failures are worth retrying, and on what schedule. Pure, but for the two retry
loops at the end, whose clock and sleep are parameters.

The one place that tells transient from permanent AWS errors: the writer (S3, SNS,
KMS) and the digester classify with it and back off with :func:`retry_delay`.

CloudTrail retries delivery to a bucket that is gone or refuses writes "for a limited
period of time" (guide, around line 3660) while other trails are unaffected. The
writer therefore never waits on a failing destination: botocore retries *transient*
errors (5xx, throttling, timeouts, resets) a few times with capped exponential
backoff and jitter (its ``standard`` retry mode); what still fails, and every
*permanent* error (the bucket, key or topic is gone or refuses us), parks the
destination: its batches move to the ``routed-retry`` topic and are retried on a
schedule until they are delivered or their parking period ends.

Every other retry loop (our own broker, the control API the demo waits for) backs
off on the same schedule, :class:`Backoff`, and asks :func:`transient` what to retry:
one schedule, one classification. (Not tenacity: the parking and digest schedules
need the delay of the n-th attempt as a number stored with a record, not a loop, so
the formula lives here anyway; the loops around it are a dozen lines.)
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from aiokafka.errors import KafkaError
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    HTTPClientError,
    ReadTimeoutError,
)

#: Error codes that no retry soon will fix: the destination is parked at once.
PERMANENT_CODES = frozenset(
    {
        # S3
        "NoSuchBucket",
        "AccessDenied",
        "AllAccessDisabled",
        "AccountProblem",
        "InvalidArgument",
        "InvalidBucketName",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        # KMS (S3 reports them as KMS.<code> or with the KMS exception name)
        "KMS.DisabledException",
        "KMS.NotFoundException",
        "KMS.KMSInvalidStateException",
        "KMS.AccessDeniedException",
        "DisabledException",
        "NotFoundException",
        "KMSInvalidStateException",
        "AccessDeniedException",
        "KMSAccessDeniedException",
        "KMSDisabledException",
        "KMSNotFoundException",
        # SNS
        "NotFound",
        "AuthorizationError",
        "InvalidParameter",
        "InvalidParameterValue",
        "KMSOptInRequired",
        # our own: the trail was never known to this writer
        "TrailNotFound",
    }
)

#: Codes botocore or the service use for "try again later".
TRANSIENT_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
        "KMS.ThrottlingException",
        "KMS.KMSInternalException",
        # S3: another conditional write to the same key is in flight (409); try again
        "ConditionalRequestConflict",
    }
)


@dataclass(frozen=True, slots=True)
class Failure:
    """One classified failure: the code GetTrailStatus shows, and its class."""

    code: str
    permanent: bool

    @property
    def kind(self) -> str:
        return "permanent" if self.permanent else "transient"


def classify(exc: BaseException) -> Failure:
    """The class of a failed S3 or SNS call.

    Unknown service errors with a 4xx status are permanent (the request itself is
    refused); 5xx, unknown codes without a status, and transport errors are transient.
    """
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code") or "Unknown")
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if code in PERMANENT_CODES:
            return Failure(code, True)
        if code in TRANSIENT_CODES or status >= 500 or status in (408, 429):
            return Failure(code, False)
        return Failure(code, 400 <= status < 500)
    if isinstance(exc, ReadTimeoutError | ConnectionError | HTTPClientError):
        return Failure(type(exc).__name__, False)
    if isinstance(exc, BotoCoreError | OSError | asyncio.TimeoutError):
        return Failure(type(exc).__name__, False)
    return Failure(type(exc).__name__, False)


def transient(exc: BaseException) -> bool:
    """Whether a failed call is worth trying again soon.

    Our own broker is not a tenant's destination: every Kafka, socket or time-out
    error is waited out. An AWS call is retried when :func:`classify` calls its
    failure transient; a refusal (4xx, a permanent code) is reported at once.
    """
    if isinstance(exc, ClientError | BotoCoreError):
        return not classify(exc).permanent
    return isinstance(exc, KafkaError | OSError)  # TimeoutError is an OSError


def backoff_ceiling(attempts: int, *, base: float, cap: float) -> float:
    """The exponential part: ``base`` doubling with each attempt (>= 1), at most ``cap``."""
    return float(min(cap, base * (2 ** max(0, attempts - 1))))


def retry_delay(
    attempts: int,
    *,
    base: float,
    cap: float,
    rng: random.Random | None = None,
) -> float:
    """Capped exponential backoff with equal jitter for the ``attempts``-th retry
    (attempts >= 1): uniform in the upper half of the current ceiling, so parked
    destinations, or processes waiting for one broker, do not retry in lock step."""
    r = rng or random
    ceiling = backoff_ceiling(attempts, base=base, cap=cap)
    return ceiling / 2 + r.random() * ceiling / 2


@dataclass(frozen=True, slots=True)
class Backoff:
    """A retry schedule: :func:`retry_delay` from ``base`` to ``cap``, and when to stop.

    ``give_up_after`` (seconds since the first try; None: never) bounds a loop that
    waits for something to start; the last pause is cut to end at that moment.
    """

    base: float
    cap: float
    give_up_after: float | None = None

    def next_delay(
        self, attempts: int, elapsed: float, rng: random.Random | None = None
    ) -> float | None:
        """The pause before the next try after ``attempts`` failures, ``elapsed`` seconds
        after the first; None when the loop should give up."""
        delay = retry_delay(attempts, base=self.base, cap=self.cap, rng=rng)
        if self.give_up_after is None:
            return delay
        left = self.give_up_after - elapsed
        return None if left <= 0 else min(delay, left)

    def pause_after(
        self, exc: BaseException, attempts: int, elapsed: float, rng: random.Random | None = None
    ) -> float | None:
        """:meth:`next_delay` for a :func:`transient` failure; None (raise it) otherwise."""
        return self.next_delay(attempts, elapsed, rng) if transient(exc) else None


@dataclass(slots=True)
class FailureStreak:
    """Failures in a row of a loop that goes on after each (a consumer's next poll):
    the pause grows with them on ``policy``'s schedule and starts over after a success."""

    policy: Backoff
    count: int = 0

    def failed(self, rng: random.Random | None = None) -> float:
        """One more failure: the pause before the next try."""
        self.count += 1
        return retry_delay(self.count, base=self.policy.base, cap=self.policy.cap, rng=rng)

    def succeeded(self) -> None:
        self.count = 0


#: Reading or committing on our own broker in a loop that goes on: the first pause
#: half a second to a second, at most ten seconds.
BROKER_LOOP = Backoff(base=1.0, cap=10.0)

#: Sending to our own broker: never given up (its records must not be dropped), a
#: tenth of a second at first, at most ten seconds apart.
OWN_BROKER = Backoff(base=0.1, cap=10.0)

T = TypeVar("T")


async def retry_async(
    op: Callable[[], Awaitable[T]],
    policy: Backoff,
    *,
    on_retry: Callable[[BaseException, float], None] | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
    rng: random.Random | None = None,
) -> T:
    """Await ``op()`` until it succeeds; a :func:`transient` failure is retried on
    ``policy``'s schedule (``on_retry`` hears each, with the pause), any other
    failure, or one past ``give_up_after``, is raised."""
    started = clock()
    attempts = 0
    while True:
        try:
            return await op()
        except Exception as exc:
            attempts += 1
            delay = policy.pause_after(exc, attempts, clock() - started, rng)
            if delay is None:
                raise
            if on_retry is not None:
                on_retry(exc, delay)
        await sleep(delay)


def retry_sync(
    op: Callable[[], T],
    policy: Backoff,
    *,
    on_retry: Callable[[BaseException, float], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    rng: random.Random | None = None,
) -> T:
    """:func:`retry_async` for a blocking ``op`` (a command-line client)."""
    started = clock()
    attempts = 0
    while True:
        try:
            return op()
        except Exception as exc:
            attempts += 1
            delay = policy.pause_after(exc, attempts, clock() - started, rng)
            if delay is None:
                raise
            if on_retry is not None:
                on_retry(exc, delay)
        sleep(delay)
