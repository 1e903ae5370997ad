"""The lease table every API replica replays from `trails`: FIFO, release, expiry by log time."""

from __future__ import annotations

import orjson

from recorder.api.leases import LeaseTable


def rec(table: LeaseTable, account: str, op: str, lease_id: str, ms: int) -> None:
    table.apply(f"lease/{account}", orjson.dumps({"op": op, "id": lease_id}), ms)


def test_first_acquire_holds_until_released_then_the_next() -> None:
    t = LeaseTable(lease_ms=1000)
    rec(t, "A", "acquire", "one", 0)
    rec(t, "A", "acquire", "two", 5)
    assert (t.holder("A"), t.granted_at("A", "one"), t.granted_at("A", "two")) == ("one", 0, None)
    rec(t, "A", "release", "one", 10)
    assert (t.holder("A"), t.granted_at("A", "two")) == ("two", 10)


def test_accounts_are_independent() -> None:
    t = LeaseTable(lease_ms=1000)
    rec(t, "A", "acquire", "a", 0)
    rec(t, "B", "acquire", "b", 1)
    assert (t.holder("A"), t.holder("B")) == ("a", "b")


def test_a_crashed_holder_expires_when_a_later_record_shows_time_passed() -> None:
    t = LeaseTable(lease_ms=1000)
    rec(t, "A", "acquire", "dead", 0)
    rec(t, "A", "acquire", "next", 100)
    t.apply("arn:aws:cloudtrail:us-east-1:A:trail/x", b"{}", 900)
    assert t.holder("A") == "dead"
    rec(t, "A", "tick", "", 1001)
    assert (t.holder("A"), t.granted_at("A", "next")) == ("next", 1001)


def test_every_replica_replaying_the_same_records_agrees() -> None:
    records = [("A", "acquire", "x", 0), ("A", "acquire", "y", 1), ("A", "release", "x", 2)]
    tables = [LeaseTable(), LeaseTable()]
    for t in tables:
        for r in records:
            rec(t, *r)
    assert {t.holder("A") for t in tables} == {"y"}


def test_released_accounts_are_forgotten() -> None:
    t = LeaseTable()
    rec(t, "A", "acquire", "x", 0)
    rec(t, "A", "release", "x", 1)
    assert t.queues == {}
    t.apply("lease/A", b"not json", 2)
    assert t.holder("A") is None
