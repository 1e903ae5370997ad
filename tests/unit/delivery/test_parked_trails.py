"""The per-trail parked view behind the TrailDeliveryParked alert: one series per
(trail, kind), aged by its oldest entry, named by that lane's error; gone once delivered."""

from __future__ import annotations

from recorder.delivery.parked_trails import ParkedTrail, ages, parked_trails
from recorder.delivery.parking import FILE, NOTICE, ParkedIndex
from recorder.obs.metrics import MAX_TRAIL_LABELS, Metrics
from recorder.trails.destination import Destination

A = "arn:aws:cloudtrail:us-east-1:111111111111:trail/a"
B = "arn:aws:cloudtrail:us-east-1:222222222222:trail/b"


def gauge(m: Metrics) -> dict[tuple[str, str, str], float]:
    return {
        (s.labels["trail_arn"], s.labels["kind"], s.labels["error"]): s.value
        for metric in m.registry.collect()
        for s in metric.samples
        if s.name == "recorder_writer_parked_trail_age_seconds"
    }


def test_a_trail_with_several_destinations_shows_once_by_its_oldest_lane() -> None:
    p0, p1 = ParkedIndex(0), ParkedIndex(0)
    # a multi-Region trail parked in two Regions, on two partitions
    p0.add(Destination(A, "111111111111", "us-east-1"), FILE, 0, 200.0, 3, "SlowDown")
    p1.add(Destination(A, "111111111111", "eu-west-1"), FILE, 0, 100.0, 1, "NoSuchBucket")
    p1.add(Destination(A, "111111111111", "eu-west-1"), NOTICE, 1, 150.0, 0, "NotFound")
    p1.add(Destination(B, "222222222222", "us-east-1"), FILE, 2, 300.0, 2, "AccessDenied")
    assert parked_trails([p0, p1]) == [
        ParkedTrail(A, FILE, "NoSuchBucket", 100.0),
        ParkedTrail(A, NOTICE, "NotFound", 150.0),
        ParkedTrail(B, FILE, "AccessDenied", 300.0),
    ]
    assert ages(parked_trails([p0, p1]), now=400.0) == {
        (A, FILE, "NoSuchBucket"): 300.0,
        (A, NOTICE, "NotFound"): 250.0,
        (B, FILE, "AccessDenied"): 100.0,
    }


def test_the_gauge_drops_a_trail_once_delivered_and_follows_its_error() -> None:
    m = Metrics()
    index = ParkedIndex(0)
    index.add(Destination(A, "111111111111", "us-east-1"), FILE, 0, 100.0, 1, "NoSuchBucket")
    index.add(Destination(B, "222222222222", "us-east-1"), FILE, 1, 150.0, 1, "AccessDenied")
    m.writer_parked_trail_age.replace(ages(parked_trails([index]), now=160.0))
    assert gauge(m) == {(A, FILE, "NoSuchBucket"): 60.0, (B, FILE, "AccessDenied"): 10.0}
    # A's bucket is re-created but its policy denies now; B is delivered
    index.lanes[(Destination(A, "111111111111", "us-east-1"), FILE)].last_error = "AccessDenied"
    index.done(1)
    m.writer_parked_trail_age.replace(ages(parked_trails([index]), now=170.0))
    assert gauge(m) == {(A, FILE, "AccessDenied"): 70.0}
    index.done(0)
    m.writer_parked_trail_age.replace(ages(parked_trails([index]), now=180.0))
    assert gauge(m) == {}


def test_a_flood_of_parked_trails_shows_only_the_longest_parked() -> None:
    m = Metrics()
    index = ParkedIndex(0)
    n = MAX_TRAIL_LABELS + 20
    for i in range(n):
        arn = f"arn:aws:cloudtrail:us-east-1:111111111111:trail/t{i}"
        index.add(Destination(arn, "111111111111", "us-east-1"), FILE, i, float(i), 1, "e")
    m.writer_parked_trail_age.replace(ages(parked_trails([index]), now=float(n)))
    shown = gauge(m)
    assert len(shown) == MAX_TRAIL_LABELS
    # the oldest (t0 ... t499) are kept: they are the ones nearing the parking period
    assert min(shown.values()) == float(n - (MAX_TRAIL_LABELS - 1))
    assert ("arn:aws:cloudtrail:us-east-1:111111111111:trail/t0", FILE, "e") in shown
