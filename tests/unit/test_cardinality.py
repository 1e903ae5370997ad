"""Per-trail metric labels are capped: the totals stay right, the tail folds into 'other'."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Counter

from recorder.obs.cardinality import CappedLabels
from recorder.obs.metrics import MAX_TRAIL_LABELS, Metrics


def test_values_past_the_cap_count_as_other() -> None:
    r = CollectorRegistry()
    capped = CappedLabels(Counter("x_total", "x", ["trail_arn"], registry=r), cap=2)
    for value in ["a", "b", "c", "d", "a"]:
        capped.labels(value).inc()
    samples = {
        s.labels["trail_arn"]: s.value
        for metric in r.collect()
        for s in metric.samples
        if s.name == "x_total"
    }
    assert samples == {"a": 2.0, "b": 1.0, "other": 2.0}


@pytest.mark.parametrize(
    ("attribute", "name"),
    [
        ("router_matches", "recorder_router_matches_total"),
        ("writer_delivered_events", "recorder_writer_delivered_events_total"),
    ],
)
def test_per_trail_counters_are_capped(attribute: str, name: str) -> None:
    m = Metrics()
    for i in range(MAX_TRAIL_LABELS + 50):
        getattr(m, attribute).labels(f"arn:aws:cloudtrail:us-east-1:111111111111:trail/t{i}").inc()
    series = [s for metric in m.registry.collect() for s in metric.samples if s.name == name]
    assert len(series) == MAX_TRAIL_LABELS + 1
    assert sum(s.value for s in series) == MAX_TRAIL_LABELS + 50
