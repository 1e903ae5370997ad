"""PutEventConfiguration and GetEventConfiguration for trails: aggregated events.

The API reference (PutEventConfiguration, AggregationConfiguration) and AWS's
"Aggregating data events": a trail that logs data events may summarise them in
5-minute aggregated events by the templates ``API_ACTIVITY``, ``RESOURCE_ACCESS`` and
``USER_ACTIONS``; at most one configuration, ``EventCategory`` ``Data``; an empty list
turns aggregation off. ``MaxEventSize`` and ``ContextKeySelectors`` belong to event
data stores, which this endpoint does not offer. The ``aggregation`` stage
(:mod:`recorder.aggregation`) reads the configuration from the stored trail.

Where AWS's exact answer is not on record: a trail that logs no data events answers
``InvalidParameterCombinationException`` (the guide: "Before you enable event
aggregation, you must create a trail and configure data events in it").
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from recorder.api.insight_selectors import logs_data_events
from recorder.api.protocol import ApiError
from recorder.trails.errors import TrailError
from recorder.trails.model import parse_aggregation_configurations

if TYPE_CHECKING:
    from recorder.api.operations import Caller, Operations


def _trail_name(p: dict[str, Any]) -> str:
    if p.get("EventDataStore"):
        if p.get("TrailName"):
            raise ApiError(
                "InvalidParameterCombinationException",
                "Specify either TrailName or EventDataStore, not both.",
            )
        raise ApiError("UnsupportedOperationException", "Event data stores are not supported here")
    if not p.get("TrailName"):
        raise ApiError(
            "InvalidParameterCombinationException", "Specify either TrailName or EventDataStore."
        )
    return str(p["TrailName"])


async def put_event_configuration(
    ops: Operations, caller: Caller, p: dict[str, Any]
) -> dict[str, Any]:
    name = _trail_name(p)
    if "MaxEventSize" in p or "ContextKeySelectors" in p:
        raise ApiError(
            "InvalidParameterCombinationException",
            "MaxEventSize and ContextKeySelectors apply to event data stores, not to trails.",
        )
    if "AggregationConfigurations" not in p:
        raise ApiError(
            "InvalidParameterCombinationException",
            "For a trail, specify AggregationConfigurations.",
        )
    try:
        templates = parse_aggregation_configurations(p["AggregationConfigurations"])
    except TrailError as exc:
        raise ApiError(exc.code, exc.message) from None
    found = ops._find_home(caller, name)
    trail = found.trail
    if templates and not logs_data_events(trail):
        raise ApiError(
            "InvalidParameterCombinationException",
            f"Trail {trail.trail_arn} does not log data events. Configure data events on "
            "the trail before you enable event aggregation.",
        )
    trail = replace(trail, aggregation_templates=templates)
    from recorder.api.operations import now_iso

    await ops._save(replace(found, trail=trail, update_time=now_iso()))
    return _answer(trail)


async def get_event_configuration(
    ops: Operations, caller: Caller, p: dict[str, Any]
) -> dict[str, Any]:
    return _answer(ops._find(caller, _trail_name(p)).trail)


def _answer(trail: Any) -> dict[str, Any]:
    return {
        "TrailARN": trail.trail_arn,
        "AggregationConfigurations": trail.aggregation_configurations_api(),
    }
