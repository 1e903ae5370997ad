"""Per-account token buckets: a burst passes, a flood is throttled, accounts are apart."""

from __future__ import annotations

import pytest

from recorder.api.limits import READ, WRITE, Rate, RateLimiter
from recorder.api.protocol import ApiError


def limiter() -> RateLimiter:
    return RateLimiter(read=Rate(10, 20), write=Rate(1, 5))


def test_burst_then_throttled_then_refilled() -> None:
    rl = limiter()
    assert [rl.take("111111111111", "us-east-1", WRITE, 0.0) for _ in range(6)] == [True] * 5 + [
        False
    ]
    assert rl.take("111111111111", "us-east-1", WRITE, 0.5) is False
    assert rl.take("111111111111", "us-east-1", WRITE, 1.0) is True


def test_accounts_regions_and_classes_have_their_own_buckets() -> None:
    rl = limiter()
    for _ in range(5):
        rl.take("111111111111", "us-east-1", WRITE, 0.0)
    assert rl.take("111111111111", "us-east-1", WRITE, 0.0) is False
    assert rl.take("222222222222", "us-east-1", WRITE, 0.0) is True
    assert rl.take("111111111111", "eu-west-1", WRITE, 0.0) is True
    assert rl.take("111111111111", "us-east-1", READ, 0.0) is True


def test_check_raises_throttling_exception() -> None:
    rl = RateLimiter(read=Rate(1, 1), write=Rate(1, 1))
    rl.check("111111111111", "us-east-1", READ, 0.0)
    with pytest.raises(ApiError) as exc:
        rl.check("111111111111", "us-east-1", READ, 0.0)
    assert (exc.value.code, exc.value.message) == ("ThrottlingException", "Rate exceeded")


def test_bounded_number_of_buckets() -> None:
    rl = RateLimiter(read=Rate(1, 1), write=Rate(1, 1), max_keys=3)
    for i in range(10):
        rl.take(f"{i:012d}", "us-east-1", READ, 0.0)
    assert len(rl._buckets) == 3
