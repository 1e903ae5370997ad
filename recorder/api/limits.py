"""Per-account request rate limits of the control API (``ThrottlingException``).

CloudTrail throttles its control plane per account and region: 10 transactions per
second for the get, describe and list APIs, 1 for all others (guide line 1245).
We keep one token bucket per (account, region, class): a bucket refills at the
class's rate and holds up to ``burst`` tokens, so a short burst passes and a
sustained flood is refused. One tenant's flood then costs the others nothing but
the verification of its signatures.

The buckets are pure and synchronous (the clock is passed in), and bounded: past
``max_keys`` buckets the least recently used is dropped, which can only make a
limit more lenient for a key idle long enough to be the oldest.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from recorder.api.protocol import ApiError

READ = "read"
WRITE = "write"


@dataclass(frozen=True, slots=True)
class Rate:
    per_second: float
    burst: float


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """Token buckets keyed by (account, region, class)."""

    def __init__(self, read: Rate, write: Rate, max_keys: int = 100_000) -> None:
        self._rates = {READ: read, WRITE: write}
        self._buckets: OrderedDict[tuple[str, str, str], _Bucket] = OrderedDict()
        self._max_keys = max_keys

    def take(self, account_id: str, region: str, kind: str, now: float) -> bool:
        """Spend one token; ``False`` when the bucket is empty (the call is throttled)."""
        rate = self._rates[kind]
        key = (account_id, region, kind)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = _Bucket(rate.burst, now)
            self._buckets[key] = bucket
            if len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            bucket.tokens = min(rate.burst, bucket.tokens + (now - bucket.at) * rate.per_second)
            bucket.at = max(bucket.at, now)
        if bucket.tokens < 1.0:
            return False
        bucket.tokens -= 1.0
        return True

    def check(self, account_id: str, region: str, kind: str, now: float) -> None:
        """:meth:`take`, raising CloudTrail's ``ThrottlingException`` when throttled."""
        if not self.take(account_id, region, kind, now):
            raise ApiError("ThrottlingException", "Rate exceeded")
