"""A trail logs the events of its logging periods, StopLogging's own included (line 8394)."""

from __future__ import annotations

import pytest

from recorder.aws.times import epoch_second
from recorder.trails import Trail, TrailError
from recorder.trails.logging_state import (
    MAX_LOGGING_PERIODS,
    LoggingPeriod,
    started,
    stopped,
)
from tests.unit.trails.test_model import GUIDE_TRAIL

T0 = epoch_second("2026-12-01T05:00:00Z")


def test_epoch_second_takes_event_time_and_api_time() -> None:
    assert epoch_second("2026-12-01T05:00:00Z") == T0
    assert epoch_second("2026-12-01T05:00:00.999Z") == T0
    with pytest.raises(ValueError):
        epoch_second("2026-12-01 05:00:00")


def test_periods_from_the_api_history() -> None:
    history = started(None, "2026-12-01T05:00:00.250Z")
    history = stopped(history, "2026-12-01T05:10:00.500Z")
    history = started(history, "2026-12-01T06:00:00.000Z")
    t = Trail.from_api({**GUIDE_TRAIL, "IsLogging": True, "LoggingPeriods": history})
    assert t.logging_periods == (
        LoggingPeriod(T0 * 1000 + 250, (T0 + 600) * 1000 + 500),
        LoggingPeriod((T0 + 3600) * 1000, None),
    )
    assert not t.logging_at(T0 - 1)  # before the first StartLogging
    assert t.logging_at(T0)  # the second of the StartLogging
    assert t.logging_at(T0 + 600)  # the second of StopLogging: its own event included
    assert not t.logging_at(T0 + 601)  # after it
    assert not t.logging_at(T0 + 3599)
    assert t.logging_at(T0 + 10**6)  # logging again, open-ended
    # the document round-trips
    assert Trail.from_api(t.to_document()) == t


def test_the_start_second_is_split_by_when_the_event_was_produced() -> None:
    """An event in the second of StartLogging is the trail's if it was produced at or
    after the start (its Kafka timestamp); without that, the whole second counts."""
    t = Trail.from_api({**GUIDE_TRAIL, "LoggingPeriods": started(None, "2026-12-01T05:00:00.250Z")})
    start_ms = T0 * 1000 + 250
    assert not t.logging_at(T0, produced_ms=start_ms - 1)  # a call just before the start
    assert t.logging_at(T0, produced_ms=start_ms)
    assert t.logging_at(T0)  # unknown: the second counts
    assert t.logging_at(T0 + 1, produced_ms=start_ms - 5000)  # later second: its eventTime
    # the end keeps its whole second, however late the record was produced
    stopped_trail = Trail.from_api(
        {
            **GUIDE_TRAIL,
            "IsLogging": False,
            "LoggingPeriods": stopped(
                started(None, "2026-12-01T05:00:00.250Z"), "2026-12-01T05:10:00.100Z"
            ),
        }
    )
    assert stopped_trail.logging_at(T0 + 600, produced_ms=(T0 + 600) * 1000 + 900)


def test_stopped_trail_still_takes_events_of_its_period() -> None:
    history = stopped(started(None, "2026-12-01T05:00:00Z"), "2026-12-01T05:10:00Z")
    t = Trail.from_api({**GUIDE_TRAIL, "IsLogging": False, "LoggingPeriods": history})
    assert t.routable and not t.is_logging
    assert t.logging_at(T0 + 5) and not t.logging_at(T0 + 601)


def test_documents_without_periods() -> None:
    always = Trail.from_api({**GUIDE_TRAIL, "IsLogging": True})
    never = Trail.from_api({**GUIDE_TRAIL, "IsLogging": False})
    assert always.logging_at(0) and always.routable
    assert not never.logging_at(T0) and not never.routable
    # older documents: the last period from StartLoggingTime/StopLoggingTime
    old = Trail.from_api(
        {
            **GUIDE_TRAIL,
            "IsLogging": False,
            "StartLoggingTime": "2026-12-01T05:00:00.000Z",
            "StopLoggingTime": "2026-12-01T05:10:00.000Z",
        }
    )
    assert old.logging_periods == (LoggingPeriod(T0 * 1000, (T0 + 600) * 1000),)


def test_history_is_bounded_and_repeats_are_idempotent() -> None:
    history: list[dict[str, str]] = []
    for i in range(MAX_LOGGING_PERIODS + 5):
        history = started(history, f"2026-12-01T05:{i:02d}:00Z")
        history = started(history, f"2026-12-01T05:{i:02d}:01Z")  # already logging
        history = stopped(history, f"2026-12-01T05:{i:02d}:30Z")
        history = stopped(history, f"2026-12-01T05:{i:02d}:31Z")  # already stopped
    assert len(history) == MAX_LOGGING_PERIODS
    assert history[-1] == {
        "StartLoggingTime": "2026-12-01T05:24:00Z",
        "StopLoggingTime": "2026-12-01T05:24:30Z",
    }


def test_bad_periods_are_refused() -> None:
    with pytest.raises(TrailError) as err:
        Trail.from_api({**GUIDE_TRAIL, "LoggingPeriods": [{"StartLoggingTime": "yesterday"}]})
    assert err.value.code == "InvalidParameterException"
