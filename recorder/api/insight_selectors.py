"""PutInsightSelectors and GetInsightSelectors, over the trail model.

What the guide and the API reference say, and nothing else:

* ``ApiCallRateInsight`` and ``ApiErrorRateInsight`` are the types; an empty list
  turns Insights off (guide line 3460). Each type takes ``EventCategories``
  ``Management``, ``Data`` or both (API reference, InsightSelector); without them it
  counts management events, as before data-event Insights. Event data stores are not
  offered.
* Management Insights need a trail that logs write management events (guide line 277),
  data Insights one that logs data events ("Logging Insights events with the AWS CLI":
  "the trail must log read or write data events"); otherwise
  ``InvalidInsightSelectorsException``.
* GetTrail's ``HasInsightSelectors`` follows; GetInsightSelectors of a trail without
  Insights answers ``InsightNotEnabledException`` with AWS's message (today's API; the
  2019 guide showed an empty selector, which is outside the SDKs' enum).
* StopLogging turns Insights off with the trail (guide line 3662):
  :meth:`recorder.trails.Trail.without_insights`, which ``StopLogging`` calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from recorder.api.protocol import ApiError
from recorder.trails import AdvancedEventSelector, Trail
from recorder.trails.errors import TrailError, answer
from recorder.trails.model import (
    DEFAULT_INSIGHT_CATEGORIES,
    INSIGHT_TYPES,
    parse_insight_categories,
)

if TYPE_CHECKING:
    from recorder.api.operations import Caller, Operations


async def put_insight_selectors(
    ops: Operations, caller: Caller, p: dict[str, Any]
) -> dict[str, Any]:
    _no_event_data_store(p)
    selectors = p.get("InsightSelectors")
    if selectors is None:
        raise ApiError("InvalidInsightSelectorsException", "InsightSelectors is required")
    types, categories = _validate(selectors)
    found = ops._find_home(caller, p["TrailName"])
    trail = found.trail
    wanted = {c for t in types for c in dict(categories).get(t, DEFAULT_INSIGHT_CATEGORIES)}
    if "Management" in wanted and not logs_write_management_events(trail):
        raise ApiError(
            "InvalidInsightSelectorsException",
            f"Trail {trail.trail_arn} does not log write management events. Insights "
            "events are based on write management events: log write or all management "
            "events on the trail, and then try the operation again.",
        )
    if "Data" in wanted and not logs_data_events(trail):
        raise ApiError(
            "InvalidInsightSelectorsException",
            f"Trail {trail.trail_arn} does not log data events. Insights events on data "
            "events are based on the data events the trail logs: log read or write data "
            "events on the trail, and then try the operation again.",
        )
    trail = replace(
        trail,
        insight_types=tuple(types),
        insight_categories=categories,
        has_insight_selectors=bool(types),
    )
    from recorder.api.operations import now_iso

    await ops._save(replace(found, trail=trail, update_time=now_iso()))
    return {"TrailARN": trail.trail_arn, "InsightSelectors": _insight_selectors(trail)}


async def get_insight_selectors(
    ops: Operations, caller: Caller, p: dict[str, Any]
) -> dict[str, Any]:
    _no_event_data_store(p)
    trail = ops._find(caller, p["TrailName"]).trail
    if not trail.insight_types:
        raise ApiError(*answer("insight_not_enabled", arn=trail.trail_arn))
    return {"TrailARN": trail.trail_arn, "InsightSelectors": _insight_selectors(trail)}


def _insight_selectors(trail: Trail) -> list[dict[str, Any]]:
    """As they were put: ``EventCategories`` where given (the guide's selectors, without
    them, count management events and are answered as the guide shows them)."""
    return trail.to_document().get("InsightSelectors", [])


def logs_data_events(trail: Trail) -> bool:
    """Whether the trail's selectors take any data events (basic: data resources with a
    read/write type; advanced: a Data selector)."""
    if trail.advanced_event_selectors:
        return any(s.category == "Data" for s in trail.advanced_event_selectors)
    return any(
        s.data_resources and s.read_write_type != "None" for s in trail.effective_event_selectors
    )


def logs_write_management_events(trail: Trail) -> bool:
    """Whether the trail's selectors (basic, or advanced) take write management events.
    A trail with no selectors put logs all management events (guide line 4608)."""
    if trail.advanced_event_selectors:
        return any(_advanced_takes_writes(s) for s in trail.advanced_event_selectors)
    return any(
        s.include_management_events and s.read_write_type != "ReadOnly"
        for s in trail.effective_event_selectors
    )


def _advanced_takes_writes(selector: AdvancedEventSelector) -> bool:
    fields = {f.field: f for f in selector.field_selectors}
    category = fields.get("eventCategory")
    if category is None or "Management" not in category.equals:
        return False
    read_only = fields.get("readOnly")
    return read_only is None or list(read_only.equals) != ["true"]


def _validate(selectors: Any) -> tuple[list[str], tuple[tuple[str, tuple[str, ...]], ...]]:
    types: list[str] = []
    categories: list[tuple[str, tuple[str, ...]]] = []
    for s in selectors:
        kind = s.get("InsightType")
        if kind not in INSIGHT_TYPES:
            raise ApiError(
                "InvalidInsightSelectorsException",
                f"Invalid InsightType {kind!r}: valid values are {', '.join(INSIGHT_TYPES)}",
            )
        if kind in types:
            raise ApiError("InvalidInsightSelectorsException", f"InsightType {kind} is given twice")
        given = s.get("EventCategories")
        if given is not None:
            try:
                categories.append((kind, parse_insight_categories(list(given))))
            except TrailError as exc:
                raise ApiError(exc.code, exc.message) from None
        types.append(kind)
    return types, tuple(categories)


def _no_event_data_store(p: Mapping[str, Any]) -> None:
    if p.get("EventDataStore") or p.get("InsightsDestination"):
        raise ApiError("UnsupportedOperationException", "Event data stores are not supported here")
    if not p.get("TrailName"):
        raise ApiError("InvalidParameterCombinationException", "TrailName is required")
