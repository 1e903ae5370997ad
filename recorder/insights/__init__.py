"""CloudTrail Insights: unusual write-API call and error rates, detected on the stream.

:mod:`recorder.insights.detector` is the rule on plain data; the stage that feeds it
from ``api-events`` and delivers its events through the writer is
:mod:`recorder.insights.service`.
"""

from recorder.insights.detector import (
    CALL_RATE,
    ERROR_RATE,
    INSIGHT_TYPES,
    Detector,
    InsightEvent,
    Rule,
    SeriesKey,
)

__all__ = [
    "CALL_RATE",
    "ERROR_RATE",
    "INSIGHT_TYPES",
    "Detector",
    "InsightEvent",
    "Rule",
    "SeriesKey",
]
