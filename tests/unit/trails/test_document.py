"""The stored trail document: the model plus the control API's tags and times."""

from __future__ import annotations

from typing import Any

from recorder.trails import Trail, TrailDocument
from recorder.trails.logging_state import LoggingPeriod, epoch_ms
from recorder.trails.model import API_DOCUMENT_MEMBERS
from tests.unit.trails.test_model import GUIDE_TRAIL

# What the control API wrote for a trail that logged once and was then stopped.
STORED: dict[str, Any] = {
    **GUIDE_TRAIL,
    "SnsTopicName": "my-topic",
    "IsOrganizationTrail": False,
    "HasCustomEventSelectors": True,
    "HasInsightSelectors": False,
    "IsLogging": False,
    "EventSelectors": [
        {
            "ReadWriteType": "WriteOnly",
            "IncludeManagementEvents": True,
            "DataResources": [],
            "ExcludeManagementEventSources": [],
        }
    ],
    "LoggingPeriods": [
        {
            "StartLoggingTime": "2026-12-01T05:00:00.250Z",
            "StopLoggingTime": "2026-12-01T05:10:00.500Z",
        }
    ],
    "Tags": [{"Key": "team", "Value": "audit"}, {"Key": "empty", "Value": ""}],
    "CreationTime": "2026-12-01T04:59:00.000Z",
    "UpdateTime": "2026-12-01T04:59:30.000Z",
    "StartLoggingTime": "2026-12-01T05:00:00.250Z",
    "StopLoggingTime": "2026-12-01T05:10:00.500Z",
}


def test_a_stored_document_reads_and_writes_back_unchanged() -> None:
    d = TrailDocument.from_document(STORED)
    assert d.trail == Trail.from_api(STORED)
    assert d.tags == (("team", "audit"), ("empty", ""))
    assert d.tags_api() == STORED["Tags"]
    assert (d.creation_time, d.stop_logging_time) == (
        "2026-12-01T04:59:00.000Z",
        "2026-12-01T05:10:00.500Z",
    )
    assert d.to_document() == STORED
    assert set(d.to_document()) - set(d.trail.to_document()) <= API_DOCUMENT_MEMBERS


def test_start_and_stop_logging_through_the_model() -> None:
    t = TrailDocument.from_document(STORED).trail
    again = t.start_logging(epoch_ms("2026-12-01T06:00:00.000Z"))
    assert again.is_logging
    assert again.logging_periods[-1] == LoggingPeriod(epoch_ms("2026-12-01T06:00:00.000Z"))
    assert again.start_logging(epoch_ms("2026-12-01T06:01:00.000Z")) == again  # still open
    stopped = again.stop_logging(epoch_ms("2026-12-01T06:30:00.000Z"))
    assert not stopped.is_logging
    assert stopped.logging_periods[-1] == LoggingPeriod(
        epoch_ms("2026-12-01T06:00:00.000Z"), epoch_ms("2026-12-01T06:30:00.000Z")
    )
    assert Trail.from_api(stopped.to_document()) == stopped


def test_a_multi_region_trail_exists_in_every_region() -> None:
    t = Trail.from_api(GUIDE_TRAIL)
    assert t.exists_in("us-east-2") and t.exists_in("eu-west-1")
    single = Trail.from_api({**GUIDE_TRAIL, "IsMultiRegionTrail": False})
    assert single.exists_in("us-east-2") and not single.exists_in("eu-west-1")


def test_insights_off() -> None:
    t = Trail.from_api({**GUIDE_TRAIL, "InsightSelectors": [{"InsightType": "ApiCallRateInsight"}]})
    off = t.without_insights()
    assert (off.has_insight_selectors, off.insight_types) == (False, ())
    assert "InsightSelectors" not in off.to_document()
