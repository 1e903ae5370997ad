"""GetTrailStatus across processes: what a writer publishes and how the API merges it."""

from __future__ import annotations

import time

import orjson

from recorder.delivery.writer import TrailDeliveryStatus as Delivery
from recorder.services.status import (
    CombinedStatus,
    StatusPublisher,
    TopicStatus,
    merge,
    snapshot,
)
from recorder.settings import Settings

ARN = "arn:aws:cloudtrail:us-east-1:123456789012:trail/t"


def test_snapshot_keeps_only_what_is_set() -> None:
    assert snapshot(Delivery("2026-11-25T06:00:00Z")) == {
        "LatestDeliveryTime": "2026-11-25T06:00:00Z"
    }
    assert snapshot(Delivery(latest_delivery_error="NoSuchBucket")) == {
        "LatestDeliveryError": "NoSuchBucket"
    }


def test_merge_takes_the_latest_time_and_a_fresh_instance_error() -> None:
    now = 1_000.0
    a = {"LatestDeliveryTime": "2026-11-25T06:05:00Z", "publishedAt": 990.0}
    b = {
        "LatestDeliveryTime": "2026-11-25T06:01:00Z",
        "LatestDeliveryError": "AccessDenied",
        "publishedAt": 995.0,
    }
    assert merge([a, b], now, stale_after=180) == {
        "LatestDeliveryTime": "2026-11-25T06:05:00Z",
        "LatestDeliveryError": "AccessDenied",
    }


def test_merge_drops_the_error_of_an_instance_that_stopped_heartbeating() -> None:
    gone = {"LatestDeliveryError": "NoSuchBucket", "publishedAt": 100.0}
    alive = {"LatestDeliveryTime": "2026-11-25T06:05:00Z", "publishedAt": 990.0}
    assert merge([gone, alive], now=1_000.0, stale_after=180) == {
        "LatestDeliveryTime": "2026-11-25T06:05:00Z"
    }


def test_publisher_sends_changes_and_heartbeats_only() -> None:
    statuses = {ARN: Delivery("2026-11-25T06:00:00Z")}
    pub = StatusPublisher(Settings(), "delivery", statuses, heartbeat=60)
    assert pub.due(0.0) == {ARN: {"LatestDeliveryTime": "2026-11-25T06:00:00Z"}}
    pub._sent[ARN] = ({"LatestDeliveryTime": "2026-11-25T06:00:00Z"}, 0.0)
    assert pub.due(1.0) == {}  # unchanged, heartbeat not due
    statuses[ARN].latest_delivery_error = "NoSuchBucket"
    assert pub.due(2.0) == {
        ARN: {"LatestDeliveryTime": "2026-11-25T06:00:00Z", "LatestDeliveryError": "NoSuchBucket"}
    }
    statuses[ARN].latest_delivery_error = None
    assert pub.due(61.0) == {ARN: {"LatestDeliveryTime": "2026-11-25T06:00:00Z"}}  # heartbeat


def test_topic_status_follows_keys_per_source_and_instance() -> None:
    view = TopicStatus(Settings())
    now = time.time()
    view.apply(
        f"delivery|{ARN}|writer-0".encode(),
        orjson.dumps({"LatestDeliveryError": "NoSuchBucket", "publishedAt": now}),
    )
    view.apply(
        f"digest|{ARN}|digester-0".encode(),
        orjson.dumps({"LatestDigestDeliveryTime": "2026-11-25T07:00:00Z", "publishedAt": now}),
    )
    view.apply(b"not-a-status-key", b"{}")  # ignored
    view.apply(f"delivery|{ARN}|writer-1".encode(), b"not json")  # ignored
    assert view.status(ARN, "us-east-1") == {
        "LatestDeliveryError": "NoSuchBucket",
        "LatestDigestDeliveryTime": "2026-11-25T07:00:00Z",
    }
    view.apply(f"delivery|{ARN}|writer-0".encode(), None)  # tombstone
    assert view.status(ARN, "us-east-1") == {"LatestDigestDeliveryTime": "2026-11-25T07:00:00Z"}
    assert view.status("arn:aws:cloudtrail:us-east-1:123456789012:trail/other", "us-east-1") == {}


def test_in_process_status_wins_but_never_moves_a_time_back() -> None:
    view = TopicStatus(Settings())
    view.apply(
        f"delivery|{ARN}|writer-1".encode(),
        orjson.dumps({"LatestDeliveryTime": "2026-11-25T06:09:00Z", "publishedAt": time.time()}),
    )
    local = {ARN: Delivery("2026-11-25T06:05:00Z", latest_delivery_error="NoSuchBucket")}
    assert CombinedStatus(local, remote=view).status(ARN, "us-east-1") == {
        "LatestDeliveryTime": "2026-11-25T06:09:00Z",
        "LatestDeliveryError": "NoSuchBucket",
    }


def test_keys_are_named_by_seat_and_a_moved_seat_or_a_deleted_trail_is_tombstoned() -> None:
    other = ARN.replace("trail/t", "trail/u")
    statuses = {ARN: Delivery("2026-11-25T06:00:00Z"), other: Delivery("2026-11-25T06:01:00Z")}
    seat: list[int | None] = [2]
    alive = {ARN, other}
    pub = StatusPublisher(
        Settings(), "delivery", statuses, seat=lambda: seat[0], exists=alive.__contains__
    )
    first = pub.plan(0.0)
    assert sorted(k for k, _ in first) == [
        f"delivery|{ARN}|p2".encode(),
        f"delivery|{other}|p2".encode(),
    ]
    assert pub.plan(1.0) == []  # nothing changed, no heartbeat due: no record at all
    seat[0] = 0  # a rebalance gave this writer partition 0 as well
    moved = dict(pub.plan(2.0))
    assert moved[f"delivery|{ARN}|p2".encode()] is None  # the old seat's keys go
    assert moved[f"delivery|{ARN}|p0".encode()] is not None
    alive.discard(other)  # DeleteTrail
    assert pub.plan(3.0) == [(f"delivery|{other}|p0".encode(), None)]
    assert other not in statuses
    seat[0] = None  # no partition left: nothing is published, what was is removed
    assert pub.plan(4.0) == [(f"delivery|{ARN}|p0".encode(), None)]


def test_the_api_drops_an_older_releases_quiet_pod_keys_and_forgets_a_deleted_trail() -> None:
    view = TopicStatus(Settings(), stale_after=180)
    now = time.time()
    old_pod = f"delivery|{ARN}|writer-7c9f".encode()
    view.apply(old_pod, orjson.dumps({"LatestDeliveryTime": "t", "publishedAt": now - 600}), now)
    seat = f"delivery|{ARN}|p1".encode()
    view.apply(seat, orjson.dumps({"LatestDeliveryTime": "t", "publishedAt": now - 600}), now)
    assert view.keys() == 1 and view._tombstones == [old_pod]
    fresh_pod = f"digest|{ARN}|digester-1".encode()
    view.apply(fresh_pod, orjson.dumps({"LatestDigestDeliveryTime": "t", "publishedAt": now}))
    view.sweep(now + 300)  # it went quiet since
    assert view.keys() == 1 and view._tombstones == [old_pod, fresh_pod]
    view.forget(ARN)
    assert view.keys() == 0 and view._tombstones[-1] == seat
    assert view.status(ARN, "us-east-1") == {}
