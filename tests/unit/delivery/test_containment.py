"""Failure containment, the pure parts: error classes, backoff, the parked format and index."""

from __future__ import annotations

import random

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from recorder.delivery.batcher import Batch, Routed
from recorder.delivery.parking import FILE, NOTICE, ParkedFile, ParkedIndex, ParkedNotice
from recorder.delivery.target import DeliveryTarget
from recorder.retry import classify, retry_delay
from recorder.trails.destination import Destination

DEST = Destination("arn:aws:cloudtrail:us-east-1:111122223333:trail/t", "111122223333", "us-east-1")
OTHER = Destination(
    "arn:aws:cloudtrail:us-east-1:444455556666:trail/u", "444455556666", "eu-west-1"
)


def client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "PutObject",
    )


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("NoSuchBucket", 404),
        ("AccessDenied", 403),
        ("KMS.DisabledException", 400),
        ("KMS.NotFoundException", 400),
        ("KMS.AccessDeniedException", 400),
        ("NotFound", 404),
        ("AuthorizationError", 403),
        ("InvalidArgument", 400),
        ("403", 403),  # S3 answers a HEAD-style error with the status as its code
    ],
)
def test_permanent_errors_park_at_once(code: str, status: int) -> None:
    failure = classify(client_error(code, status))
    assert failure.permanent and failure.code == code and failure.kind == "permanent"


@pytest.mark.parametrize(
    ("code", "status"),
    [("SlowDown", 503), ("InternalError", 500), ("Throttling", 400), ("RequestTimeout", 400)],
)
def test_transient_errors_are_retried(code: str, status: int) -> None:
    assert not classify(client_error(code, status)).permanent


def test_transport_errors_are_transient() -> None:
    assert not classify(EndpointConnectionError(endpoint_url="http://x")).permanent
    assert not classify(ReadTimeoutError(endpoint_url="http://x")).permanent
    assert not classify(ConnectionResetError()).permanent


def test_backoff_doubles_up_to_the_cap_with_jitter() -> None:
    rng = random.Random(7)
    delays = [retry_delay(n, base=5, cap=300, rng=rng) for n in range(1, 12)]
    for n, d in enumerate(delays, start=1):
        ceiling = min(300, 5 * 2 ** (n - 1))
        assert ceiling / 2 <= d <= ceiling
    assert len({round(retry_delay(9, base=5, cap=300, rng=rng), 3) for _ in range(20)}) > 1


def batch() -> Batch:
    records = [
        (10, Routed(b'{"eventID":"a","x":"line\\nbreak"}', "2026-11-25T06:00:00Z", "a")),
        (12, Routed(b'{"eventID":"b"}', "2026-11-25T06:00:01Z", "b")),
        (15, Routed(b'{"eventID":"c"}', "2026-11-25T06:00:02Z", "c")),
    ]
    return Batch(DEST, 3, records, "2026-11-25T06:05:00Z", "interval")


def test_parked_file_keeps_records_seed_and_last_known_target() -> None:
    b = batch()
    target = DeliveryTarget(bucket="logs", prefix="p", kms_key_id="k", sns_topic_arn="arn:t")
    parked = ParkedFile.of(b, target, 1000.0, "NoSuchBucket")
    back = ParkedFile.from_record(DEST.key(), parked.to_bytes())
    assert back == parked
    again = back.to_batch()
    assert again.seed == b.seed  # hence the same object key
    assert [r for _, r in again.records] == [r for _, r in b.records]
    assert again.cut_time == b.cut_time and again.destination == DEST


def test_parked_file_with_a_mangled_body_is_refused() -> None:
    raw = ParkedFile.of(batch(), None, 1.0, "x").to_bytes()
    with pytest.raises(ValueError, match="record count"):
        ParkedFile.from_record(DEST.key(), raw.rsplit(b"\n", 1)[0])


def test_parked_notice_round_trip() -> None:
    n = ParkedNotice(DEST, "arn:aws:sns:eu-west-1:1:t", "logs", "k.json.gz", 5.0, "NotFound")
    assert ParkedNotice.from_record(DEST.key(), n.to_bytes()) == n


def test_index_lanes_keep_order_and_commit_behind_the_oldest_parked() -> None:
    index = ParkedIndex(100)
    index.add(DEST, FILE, 100, 1.0, 3, "NoSuchBucket")
    index.add(OTHER, FILE, 101, 2.0, 2, "SlowDown")
    index.add(DEST, FILE, 102, 3.0, 4, "NoSuchBucket")
    index.add(DEST, NOTICE, 103, 4.0, 0, "NotFound")
    assert index.parked(DEST) and index.parked(DEST, NOTICE) and index.parked(OTHER)
    assert index.events() == 9 and index.oldest() == 1.0
    assert index.destinations() == {DEST, OTHER}
    assert index.committable() == 100
    index.done(101)  # OTHER delivered: DEST's head still holds the commit
    assert not index.parked(OTHER)
    assert index.committable() == 100
    index.done(100)
    assert [e.offset for e in index.lanes[(DEST, FILE)].entries] == [102]
    assert index.committable() == 102
    index.done(102)
    index.done(103)
    index.seen(107)  # the done records themselves
    assert index.committable() == 108
    assert index.lanes == {}


def test_due_lanes_skip_busy_and_scheduled_ones() -> None:
    index = ParkedIndex(0)
    index.add(DEST, FILE, 0, 1.0, 1, "e")
    index.add(OTHER, FILE, 1, 1.0, 1, "e")
    index.schedule(index.lanes[(DEST, FILE)], 50.0)
    assert [lane.destination for lane in index.due(10.0)] == [OTHER]
    index.lanes[(OTHER, FILE)].busy = True
    assert index.due(10.0) == []
    assert [lane.destination for lane in index.due(60.0)] == [DEST]


def test_a_checkpoint_holds_the_index_and_a_new_owner_reads_on_from_it() -> None:
    """What is parked, in one record: the new owner of the partition loads it and
    applies only what came after it, instead of every record since the oldest parked."""
    index = ParkedIndex(100)
    index.add(DEST, FILE, 100, 1.0, 3, "NoSuchBucket")
    index.add(OTHER, FILE, 101, 2.0, 2, "SlowDown")
    index.add(DEST, FILE, 102, 3.0, 4, "NoSuchBucket")
    index.done(101)
    index.seen(103)
    checkpoint = index.snapshot()
    new_owner = ParkedIndex(104)
    new_owner.restore(checkpoint, 104)  # read at the committed offset: the checkpoint
    new_owner.add(DEST, NOTICE, 105, 4.0, 0, "NotFound")  # then the tail
    new_owner.done(100)
    assert [e.offset for e in new_owner.lanes[(DEST, FILE)].entries] == [102]
    assert new_owner.lanes[(DEST, FILE)].last_error == "NoSuchBucket"
    assert new_owner.events() == 4 and new_owner.oldest() == 3.0
    assert new_owner.committable() == 102 and new_owner.position == 106
    assert not new_owner.parked(OTHER)


def test_done_and_commit_do_not_scan_what_is_parked() -> None:
    """Thirty days of a broken destination's batches (one each five minutes), done
    oldest first: each done and each committable is a lookup, not a scan."""
    index = ParkedIndex(0)
    n = 8640
    for i in range(n):
        index.add(DEST, FILE, i, float(i), 1, "NoSuchBucket")
    for i in range(n):
        assert index.committable() == i
        index.done(i)
    assert index.committable() == n and index.events() == 0 and len(index) == 0


def test_sns_client_region_comes_from_the_topic_arn() -> None:
    from recorder.delivery.notices import topic_region

    assert topic_region("arn:aws:sns:eu-west-1:111122223333:t", "us-east-1") == "eu-west-1"
    assert topic_region("not-an-arn", "us-east-1") == "us-east-1"
