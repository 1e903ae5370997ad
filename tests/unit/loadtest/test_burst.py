"""The load test's burst mode: one write API's rate raised for a period."""

from __future__ import annotations

import argparse

import pytest

from loadtest.burst import Burst
from loadtest.traffic import TrafficMix, account_ids
from recorder.insights.streams import series_of


def test_parse() -> None:
    b = Burst.parse("s3.amazonaws.com:DeleteBucket:20:10:100")
    assert (b.event_source, b.event_name, b.at, b.seconds, b.rate, b.base) == (
        "s3.amazonaws.com",
        "DeleteBucket",
        20.0,
        10.0,
        100.0,
        2.0,
    )
    assert Burst.parse("ec2.amazonaws.com:RunInstances:1:2:3:0").base == 0.0
    for bad in ("s3:DeleteBucket:20:10", "s3:x:a:1:1", ":x:1:1:1", "s3:x:1:-1:1"):
        with pytest.raises(argparse.ArgumentTypeError):
            Burst.parse(bad)


def test_rate_before_during_and_after_the_burst() -> None:
    mix = TrafficMix(account_ids(3))
    b = Burst.parse("s3.amazonaws.com:DeleteBucket:10:5:100:2")
    per_second = []
    for second in range(1, 21):
        per_second.append(len(b.events(mix, float(second), 1_764_547_200.0 + second)))
    assert per_second[:10] == [2] * 10
    assert per_second[10:15] == [100] * 5
    assert per_second[15:] == [2] * 5
    assert b.sent == sum(per_second)


def test_burst_calls_are_write_management_calls_of_one_account_and_api() -> None:
    mix = TrafficMix(account_ids(3))
    events = Burst.parse("s3.amazonaws.com:DeleteBucket:0:1:50").events(mix, 1.0, 1e9)
    assert len(events) == 50
    assert len({e["eventID"] for e in events}) == 50
    keys = {k for e in events for k in series_of(e)}
    assert len(keys) == 1
    (key,) = keys
    assert (key.account_id, key.region, key.event_source, key.event_name) == (
        mix.accounts[0],
        "us-east-1",
        "s3.amazonaws.com",
        "DeleteBucket",
    )
