"""PutInsightSelectors and GetInsightSelectors, over the trail model.

What the guide and the API reference say, and nothing else:

* ``ApiCallRateInsight`` and ``ApiErrorRateInsight`` are the types; an empty list
  turns Insights off (guide line 3460). Insights are on management events only here
  (``EventCategories`` ``["Management"]`` or absent); event data stores are not
  offered.
* A trail that logs read-only or no management events cannot turn Insights on
  (guide line 277: Insights are based on write management events):
  ``InvalidInsightSelectorsException``.
* GetTrail's ``HasInsightSelectors`` follows; GetInsightSelectors of a trail without
  Insights answers the guide's default settings (line 5016), one selector with an
  empty ``InsightType``.
* StopLogging turns Insights off with the trail (guide line 3662):
  :meth:`recorder.trails.Trail.without_insights`, which ``StopLogging`` calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from recorder.api.protocol import ApiError
from recorder.trails import AdvancedEventSelector, Trail
from recorder.trails.model import INSIGHT_TYPES

if TYPE_CHECKING:
    from recorder.api.operations import Caller, Operations


async def put_insight_selectors(
    ops: Operations, caller: Caller, p: dict[str, Any]
) -> dict[str, Any]:
    _no_event_data_store(p)
    selectors = p.get("InsightSelectors")
    if selectors is None:
        raise ApiError("InvalidInsightSelectorsException", "InsightSelectors is required")
    types = _validate(selectors)
    found = ops._find_home(caller, p["TrailName"])
    trail = found.trail
    if types and not logs_write_management_events(trail):
        raise ApiError(
            "InvalidInsightSelectorsException",
            f"Trail {trail.trail_arn} does not log write management events. Insights "
            "events are based on write management events: log write or all management "
            "events on the trail, and then try the operation again.",
        )
    trail = replace(trail, insight_types=tuple(types), has_insight_selectors=bool(types))
    from recorder.api.operations import now_iso

    await ops._save(replace(found, trail=trail, update_time=now_iso()))
    return {"TrailARN": trail.trail_arn, "InsightSelectors": _insight_selectors(trail)}


async def get_insight_selectors(
    ops: Operations, caller: Caller, p: dict[str, Any]
) -> dict[str, Any]:
    _no_event_data_store(p)
    trail = ops._find(caller, p["TrailName"]).trail
    selectors = _insight_selectors(trail) or [{"InsightType": ""}]
    return {"TrailARN": trail.trail_arn, "InsightSelectors": selectors}


def _insight_selectors(trail: Trail) -> list[dict[str, str]]:
    return [{"InsightType": t} for t in trail.insight_types]


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


def _validate(selectors: Any) -> list[str]:
    types: list[str] = []
    for s in selectors:
        kind = s.get("InsightType")
        if kind not in INSIGHT_TYPES:
            raise ApiError(
                "InvalidInsightSelectorsException",
                f"Invalid InsightType {kind!r}: valid values are {', '.join(INSIGHT_TYPES)}",
            )
        if kind in types:
            raise ApiError("InvalidInsightSelectorsException", f"InsightType {kind} is given twice")
        categories = s.get("EventCategories")
        if categories is not None and list(categories) != ["Management"]:
            raise ApiError(
                "InvalidInsightSelectorsException",
                f"EventCategories {list(categories)!r}: only Management events are "
                "analyzed for Insights by this endpoint",
            )
        types.append(kind)
    return types


def _no_event_data_store(p: Mapping[str, Any]) -> None:
    if p.get("EventDataStore") or p.get("InsightsDestination"):
        raise ApiError("UnsupportedOperationException", "Event data stores are not supported here")
    if not p.get("TrailName"):
        raise ApiError("InvalidParameterCombinationException", "TrailName is required")
