"""Which delivery failures are worth retrying at once, and which park a destination. Pure.

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
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass

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


def retry_delay(
    attempts: int,
    *,
    base: float,
    cap: float,
    rng: random.Random | None = None,
) -> float:
    """Capped exponential backoff with equal jitter for the ``attempts``-th retry of a
    parked destination (attempts >= 1): uniform in the upper half of the current ceiling, so
    parked destinations do not retry in lock step."""
    r = rng or random
    ceiling = min(cap, base * (2 ** max(0, attempts - 1)))
    return ceiling / 2 + r.random() * ceiling / 2
