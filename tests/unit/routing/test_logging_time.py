"""Routing by the trail's state at the event's time (line 8394): a trail records events
up to and including its StopLogging, none after, however late they are routed; a
deleted trail keeps the events of before its deletion."""

from __future__ import annotations

from typing import Any

from recorder.routing import RoutingEngine, reference_route
from recorder.trails import Trail
from recorder.trails.logging_state import started, stopped
from tests.unit.routing.guide_cases import ACCOUNT, record, trail

STOP = "2026-12-01T05:10:00.400Z"


def _trail(**extra: Any) -> Trail:
    return Trail.from_api(trail("audit", **extra))


def _at(event_time: str, event_id: str = "0b5ad7f4-6f0a-4d3a-9c1e-000000000001") -> dict[str, Any]:
    r = record("ec2.amazonaws.com", "RunInstances", event_id)
    r["eventTime"] = event_time
    return r


def _stopped_trail() -> Trail:
    periods = stopped(started(None, "2026-12-01T05:00:00.100Z"), STOP)
    return _trail(IsLogging=False, LoggingPeriods=periods)


def _routes(t: Trail, r: dict[str, Any]) -> bool:
    out = RoutingEngine.compile([t]).route(r)
    assert out == reference_route([t], {}, r)  # the specification agrees
    return bool(out)


def test_events_up_to_and_including_the_stop_second_are_the_trails() -> None:
    t = _stopped_trail()
    assert not _routes(t, _at("2026-12-01T04:59:59Z"))  # before StartLogging
    assert _routes(t, _at("2026-12-01T05:00:00Z"))
    assert _routes(t, _at("2026-12-01T05:10:00Z"))  # StopLogging's own second
    assert not _routes(t, _at("2026-12-01T05:10:01Z"))  # after it


def test_stop_logging_call_is_recorded_by_the_trail_it_stops() -> None:
    t = _stopped_trail()
    stop_call = record("cloudtrail.amazonaws.com", "StopLogging", "stop-call-event-id-1")
    stop_call["eventTime"] = "2026-12-01T05:10:00Z"  # timed when the call arrived
    deliveries = RoutingEngine.compile([t]).route(stop_call)
    assert [(d.trail_arn, d.account_id) for d in deliveries] == [(t.trail_arn, ACCOUNT)]


def test_logging_trail_without_history_takes_everything_and_stopped_nothing() -> None:
    assert _routes(_trail(IsLogging=True), _at("2001-01-01T00:00:00Z"))
    assert not _routes(_trail(IsLogging=False), _at("2026-12-01T05:00:00Z"))


def test_restarted_trail_skips_the_gap() -> None:
    periods = started(stopped(started(None, "2026-12-01T05:00:00Z"), STOP), "2026-12-01T06:00:00Z")
    t = _trail(IsLogging=True, LoggingPeriods=periods)
    assert _routes(t, _at("2026-12-01T05:05:00Z"))
    assert not _routes(t, _at("2026-12-01T05:30:00Z"))
    assert _routes(t, _at("2026-12-01T06:30:00Z"))


def test_start_second_is_split_by_the_kafka_timestamp() -> None:
    t = _trail(IsLogging=True, LoggingPeriods=started(None, "2026-12-01T06:00:00.500Z"))
    engine = RoutingEngine.compile([t])
    r = _at("2026-12-01T06:00:00Z")
    before, after = 1796104800_499, 1796104800_500  # ms of 06:00:00.499 and .500
    assert engine.route(r, before) == reference_route([t], {}, r, before) == []
    assert engine.route(r, after) == reference_route([t], {}, r, after) != []


def test_one_engine_asks_the_periods_for_every_event_of_a_remembered_view() -> None:
    """The engine remembers where each selector view may go (the same call on the same
    resources), never whether the trail was logging: that is asked per event."""
    t = _stopped_trail()
    engine = RoutingEngine.compile([t])
    times = ["2026-12-01T05:05:00Z", "2026-12-01T05:10:01Z", "2026-12-01T04:59:59Z"]
    answers = []
    for event_time in [*times, times[0]]:
        r = _at(event_time)
        out = engine.route(r)
        assert out == reference_route([t], {}, r)
        answers.append([d.trail_arn for d in out])
    assert answers == [[t.trail_arn], [], [], [t.trail_arn]]
