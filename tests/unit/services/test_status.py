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
