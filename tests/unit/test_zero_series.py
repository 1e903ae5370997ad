"""The counters alerts take ``increase()`` of are shown at 0 before their first count
(a series born at 1 would hide that count from ``increase()``)."""

from __future__ import annotations

from recorder.api.service import ApiMetrics
from recorder.delivery.writer import Writer
from recorder.obs.metrics import Metrics
from recorder.routing.service import Router
from recorder.services.organizations import OrganizationsFollower
from recorder.settings import Settings


def dead_letter_series(m: Metrics) -> dict[tuple[str, str], float]:
    return {
        (s.labels["stage"], s.labels["reason"]): s.value
        for metric in m.registry.collect()
        for s in metric.samples
        if s.name == "recorder_dlq_records_total"
    }


def test_router_and_writer_show_every_dead_letter_reason_at_zero() -> None:
    m = Metrics()
    settings = Settings()
    Router(settings, engine=lambda: None, metrics=m)  # type: ignore[arg-type,return-value]
    Writer(settings, targets=lambda _: None, metrics=m)  # type: ignore[arg-type]
    assert dead_letter_series(m) == {
        ("router", "undecodable"): 0.0,
        ("router", "invalid"): 0.0,
        ("router", "rejected"): 0.0,
        ("writer", "undecodable"): 0.0,
        ("writer", "bad-marker"): 0.0,
        ("writer", "parking-expired"): 0.0,
    }


def test_organizations_reads_show_every_outcome_at_zero() -> None:
    m = Metrics()
    OrganizationsFollower(Settings(), registry=None, metrics=m)
    outcomes = {
        s.labels["outcome"]: s.value
        for metric in m.registry.collect()
        for s in metric.samples
        if s.name == "recorder_organizations_refresh_total"
    }
    assert outcomes == {"ok": 0.0, "not_in_use": 0.0, "failed": 0.0}


def test_the_writer_shows_its_budget_and_parking_period_before_any_work() -> None:
    """Alerts divide by them: a 0 would make any buffered byte an infinite share."""
    m = Metrics()
    Writer(
        Settings(writer_buffer_bytes=64 * 1024 * 1024, parking_period=3600.0),
        targets=lambda _: None,
        metrics=m,
    )  # type: ignore[arg-type]
    assert m.registry.get_sample_value("recorder_writer_buffer_budget_bytes") == 64 * 1024 * 1024
    assert m.registry.get_sample_value("recorder_writer_parking_period_seconds") == 3600.0


def test_the_api_shows_its_audit_outcomes_at_zero() -> None:
    m = Metrics()
    ApiMetrics.on(m)
    outcomes = {
        s.labels["outcome"]: s.value
        for metric in m.registry.collect()
        for s in metric.samples
        if s.name == "recorder_api_audit_events_total"
    }
    assert outcomes == {"sent": 0.0, "encode_failed": 0.0, "send_failed": 0.0}
