"""Fenced leases (issue 27 item 4): a trail record written under a lease another
writer's grant has passed is ignored by every reader of `trails` alike."""

from __future__ import annotations

import orjson

from recorder.services.registry import TrailRegistry
from recorder.settings import Settings
from recorder.trails.leases import EPOCH_HEADER, LeaseTable
from tests.unit.routing.guide_cases import trail
from tests.unit.services.records import trails_record

ACCOUNT = "123456789012"


def lease(offset: int, op: str, lease_id: str, ms: int, length: int = 1000) -> tuple:
    body = {"op": op, "id": lease_id, "ms": length}
    return (offset, f"lease/{ACCOUNT}", orjson.dumps(body), ms)


def replay(table: LeaseTable, records: list[tuple]) -> list[bool]:
    """Apply lease records and check trail records (epoch, ms) in order: the admits."""
    out = []
    for r in records:
        if r[1].startswith("lease/"):
            table.apply(r[1], r[2], r[3], r[0])
        else:
            out.append(table.admits(ACCOUNT, r[2], r[3], r[0]))
    return out


PAUSED = [
    lease(0, "acquire", "a", 0),  # replica A is granted (epoch 0) ...
    lease(1, "acquire", "b", 100),  # ... B queues behind it
    lease(2, "tick", "", 1200),  # A held past its lease (paused): B is granted
    (3, "trail", 1, 1250),  # B's write, epoch 1
    lease(4, "release", "b", 1260),
    (5, "trail", 0, 1300),  # A's send, made before its lease ran out, lands now
]


def test_a_paused_holders_delayed_write_is_ignored() -> None:
    assert replay(LeaseTable(), PAUSED) == [True, False]


def test_every_reader_decides_alike_and_a_compacted_log_keeps_what_was_taken() -> None:
    assert replay(LeaseTable(), PAUSED) == replay(LeaseTable(), PAUSED)
    # After compaction: one lease record per account (the last), B's write, and the
    # repair that followed A's stale one (which compaction then removed).
    compacted = [(3, "trail", 1, 1250), lease(4, "release", "b", 1260), (9, "trail", 8, 1400)]
    assert replay(LeaseTable(), compacted) == [True, True]


def test_a_holder_that_wrote_in_time_is_taken() -> None:
    records = [lease(0, "acquire", "a", 0), (1, "trail", 0, 500), lease(2, "release", "a", 600)]
    assert replay(LeaseTable(), records) == [True]


def test_a_late_write_is_taken_while_no_one_else_was_granted() -> None:
    """Nobody wrote in between: taking it conflicts with no one (and its writer may have
    answered 503 already, which a client retrying finds done)."""
    records = [lease(0, "acquire", "a", 0), lease(1, "release", "a", 600), (2, "trail", 0, 5000)]
    assert replay(LeaseTable(), records) == [True]


def test_the_lease_length_is_the_acquire_records_own() -> None:
    t = LeaseTable(lease_ms=1000)
    t.apply(f"lease/{ACCOUNT}", orjson.dumps({"op": "acquire", "id": "a", "ms": 5000}), 0, 0)
    t.apply(f"lease/{ACCOUNT}", orjson.dumps({"op": "tick"}), 3000, 1)
    assert t.holder(ACCOUNT) == "a"
    t.apply(f"lease/{ACCOUNT}", orjson.dumps({"op": "tick"}), 5001, 2)
    assert t.holder(ACCOUNT) is None


async def test_the_registry_ignores_the_stale_record_and_marks_its_key() -> None:
    registry = TrailRegistry(Settings.from_env({}))
    doc_b = trail("audit", ACCOUNT, bucket="bucket-b")
    doc_a = trail("audit", ACCOUNT, bucket="bucket-a")
    arn = doc_b["TrailARN"]

    def write(offset: int, doc: dict, epoch: int, ms: int) -> object:
        return trails_record(offset, arn, doc, ms, [(EPOCH_HEADER, str(epoch).encode())])

    leases = [trails_record(o, k, orjson.loads(v), ms) for o, k, v, ms in PAUSED[:3]]
    await registry._apply(leases)
    await registry._apply([write(3, doc_b, 1, 1250)])
    await registry._apply([write(5, doc_a, 0, 1300)])
    assert registry.trails[arn].s3_bucket_name == "bucket-b"
    assert registry.target(arn).bucket == "bucket-b"  # type: ignore[union-attr]
    assert registry.was_fenced(5) and not registry.was_fenced(3)
    assert registry.dangling == {arn: 5}
    await registry._apply([write(6, doc_b, 6, 1400)])  # the repair, under a new lease
    assert registry.dangling == {}
