"""A deleted trail keeps the events of before its deletion (line 8394): the registry
retires it with its last logging period closed at the tombstone's time."""

from __future__ import annotations

import datetime as dt

from recorder.services.registry import TrailRegistry
from recorder.settings import Settings
from recorder.trails.logging_state import started
from tests.unit.routing.guide_cases import record, trail
from tests.unit.services.records import trails_record

DELETED_AT = dt.datetime(2026, 12, 1, 5, 10, 0, 400_000, tzinfo=dt.UTC)


def _event(event_time: str) -> dict[str, object]:
    r = record("ec2.amazonaws.com", "RunInstances", "0b5ad7f4-6f0a-4d3a-9c1e-000000000002")
    r["eventTime"] = event_time
    return r


async def test_deleted_trail_routes_events_of_before_its_deletion_only() -> None:
    registry = TrailRegistry(Settings.from_env({}))
    doc = {
        **trail("audit"),
        "IsLogging": True,
        "StartLoggingTime": "2026-12-01T05:00:00.000Z",
        "LoggingPeriods": started(None, "2026-12-01T05:00:00.000Z"),
    }
    await registry._apply([trails_record(0, doc["TrailARN"], doc)])
    deleted_ms = int(DELETED_AT.timestamp() * 1000)
    await registry._apply([trails_record(1, doc["TrailARN"], None, deleted_ms)])
    assert doc["TrailARN"] not in registry.trails  # gone for the control API
    engine = registry.engine()
    assert engine.route(_event("2026-12-01T05:09:59Z"))  # late, but from before
    assert engine.route(_event("2026-12-01T05:10:00Z"))  # DeleteTrail's own second
    assert not engine.route(_event("2026-12-01T05:10:01Z"))
    target = registry.target(doc["TrailARN"])  # the writer can still deliver them
    assert target is not None and target.bucket == "my-bucket"


def test_trail_that_never_logged_is_forgotten_at_once() -> None:
    registry = TrailRegistry(Settings.from_env({}))
    doc = {**trail("quiet"), "IsLogging": False}
    registry._retire(doc["TrailARN"], doc, int(DELETED_AT.timestamp() * 1000))
    assert registry.target(doc["TrailARN"]) is None
