"""Identity lookups never block the sink's thread: cached per credential set, looked up
on the resolver's own threads once at a time, refreshed ahead of expiry, retried when
STS is away, and what is known when STS refuses."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from recorder.producer.identity import (
    Credentials,
    LookupResolver,
    account_of_access_key,
    known_identity,
    sts_region,
)
from recorder.producer.record import Identity

A = Credentials("ASIAEXAMPLEEXAMPLE01", "secret", "token")
ALICE = Identity(account_id="111122223333", access_key_id=A.access_key, user_name="alice")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def wait_for(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_resolve_answers_at_once_and_looks_up_once_per_credential_set() -> None:
    release = threading.Event()
    calls: list[Credentials] = []

    def lookup(credentials: Credentials, region: str | None) -> Identity:
        calls.append(credentials)
        release.wait(5)  # STS is slow
        return ALICE

    resolver = LookupResolver(lookup)
    started = time.monotonic()
    assert [resolver.resolve(A, "us-east-1") for _ in range(100)] == [None] * 100
    assert time.monotonic() - started < 0.5  # never waited for the lookup
    wait_for(lambda: len(calls) == 1)
    assert calls == [A]  # one lookup in flight for the set, however often it is asked
    release.set()
    wait_for(lambda: resolver.resolve(A, "us-east-1") == ALICE)
    assert len(calls) == 1 and resolver.generation == 1


def test_refreshed_ahead_of_expiry_while_the_cached_identity_serves() -> None:
    clock = Clock()
    answers = [ALICE, Identity(account_id="111122223333", user_name="alice-renamed")]
    calls: list[int] = []

    def lookup(credentials: Credentials, region: str | None) -> Identity:
        calls.append(1)
        return answers[len(calls) - 1]

    resolver = LookupResolver(lookup, ttl=100.0, refresh=0.8, clock=clock)
    resolver.resolve(A, None)
    wait_for(lambda: resolver.resolve(A, None) == ALICE)
    clock.now += 79
    assert resolver.resolve(A, None) == ALICE and len(calls) == 1  # not due yet
    clock.now += 2
    assert resolver.resolve(A, None) == ALICE  # due: served, and looked up meanwhile
    wait_for(lambda: resolver.resolve(A, None) == answers[1])
    assert len(calls) == 2


def test_sts_away_is_retried_with_backoff_and_the_identity_arrives() -> None:
    clock = Clock()
    calls: list[float] = []

    def lookup(credentials: Credentials, region: str | None) -> Identity:
        calls.append(clock.now)
        if len(calls) < 3:
            raise EndpointConnectionError(endpoint_url="https://sts.us-east-1.amazonaws.com")
        return ALICE

    resolver = LookupResolver(lookup, retry_base=10.0, retry_max=60.0, clock=clock)
    assert resolver.resolve(A, None) is None
    wait_for(lambda: resolver.failures == 1)
    assert resolver.resolve(A, None) is None and len(calls) == 1  # backing off
    clock.now += 11
    resolver.resolve(A, None)
    wait_for(lambda: resolver.failures == 2)
    clock.now += 21
    resolver.resolve(A, None)
    wait_for(lambda: resolver.resolve(A, None) == ALICE)
    assert len(calls) == 3


def test_a_refused_lookup_gives_what_the_key_says() -> None:
    moto = pytest.importorskip("moto.iam.utils")
    key = moto.generate_access_key_id_from_account_id("444455556666", "ASIA")
    refused = ClientError(
        {"Error": {"Code": "ExpiredToken", "Message": "The security token included in the "
                   "request is expired"}, "ResponseMetadata": {"HTTPStatusCode": 400}},
        "GetCallerIdentity",
    )  # fmt: skip

    def lookup(credentials: Credentials, region: str | None) -> Identity:
        raise refused

    resolver = LookupResolver(lookup)
    creds = Credentials(key, "s", "t")
    resolver.resolve(creds, None)
    wait_for(lambda: resolver.resolve(creds, None) is not None)
    known = resolver.resolve(creds, None)
    assert known == Identity(
        account_id="444455556666", access_key_id=key, type="Unknown", principal_id=key
    )


def test_the_account_an_access_key_id_carries() -> None:
    moto = pytest.importorskip("moto.iam.utils")
    for account in ("123456789012", "000000000001", "999999999999", "444455556667"):
        for prefix in ("AKIA", "ASIA"):
            key = moto.generate_access_key_id_from_account_id(account, prefix)
            assert account_of_access_key(key) == account
    # the older form, and made-up keys, carry none
    assert account_of_access_key("AKIAIOSFODNN7EXAMPLE") is None
    assert account_of_access_key("testing") is None
    assert known_identity(Credentials("testing", "x", None)) is None


@pytest.mark.parametrize(
    ("client_region", "sts"),
    [
        ("eu-west-1", "eu-west-1"),
        ("cn-northwest-1", "cn-northwest-1"),
        ("us-gov-east-1", "us-gov-east-1"),
        ("aws-global", "us-east-1"),
        ("aws-cn-global", "cn-north-1"),
        ("aws-us-gov-global", "us-gov-west-1"),
        (None, "us-east-1"),
    ],
)
def test_sts_is_asked_in_the_calls_own_region_and_partition(
    client_region: str | None, sts: str
) -> None:
    assert sts_region(client_region) == sts


@pytest.mark.parametrize(
    ("client_region", "endpoint"),
    [
        ("us-east-1", "https://sts.us-east-1.amazonaws.com"),
        ("cn-north-1", "https://sts.cn-north-1.amazonaws.com.cn"),
        ("aws-cn-global", "https://sts.cn-north-1.amazonaws.com.cn"),
        ("us-gov-west-1", "https://sts.us-gov-west-1.amazonaws.com"),
    ],
)
def test_the_lookup_goes_to_the_regional_endpoint_of_the_partition(
    client_region: str, endpoint: str
) -> None:
    from recorder.producer.identity import CallerIdentityResolver

    assert CallerIdentityResolver().endpoint(client_region)[1] == endpoint
    assert (
        CallerIdentityResolver(endpoint_url="http://127.0.0.1:5000").endpoint(client_region)[1]
        == "http://127.0.0.1:5000"
    )
