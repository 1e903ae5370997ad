"""PutInsightSelectors and GetInsightSelectors, over trail documents.

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
  :func:`insights_off`, which ``StopLogging`` calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from recorder.api.protocol import ApiError
from recorder.trails.model import INSIGHT_TYPES

if TYPE_CHECKING:
    from recorder.api.operations import Caller, Operations

Document = dict[str, Any]


async def put_insight_selectors(
    ops: Operations, caller: Caller, p: dict[str, Any]
) -> dict[str, Any]:
    _no_event_data_store(p)
    selectors = p.get("InsightSelectors")
    if selectors is None:
        raise ApiError("InvalidInsightSelectorsException", "InsightSelectors is required")
    types = _validate(selectors)
    doc = ops._find_home(caller, p["TrailName"])
    if types and not logs_write_management_events(doc):
        raise ApiError(
            "InvalidInsightSelectorsException",
            f"Trail {doc['TrailARN']} does not log write management events. Insights "
            "events are based on write management events: log write or all management "
            "events on the trail, and then try the operation again.",
        )
    if types:
        doc["InsightSelectors"] = [{"InsightType": t} for t in types]
    else:
        doc.pop("InsightSelectors", None)
    doc["HasInsightSelectors"] = bool(types)
    from recorder.api.operations import now_iso

    doc["UpdateTime"] = now_iso()
    await ops._save(doc)
    return {"TrailARN": doc["TrailARN"], "InsightSelectors": [{"InsightType": t} for t in types]}


async def get_insight_selectors(
    ops: Operations, caller: Caller, p: dict[str, Any]
) -> dict[str, Any]:
    _no_event_data_store(p)
    doc = ops._find(caller, p["TrailName"])
    selectors = doc.get("InsightSelectors") or [{"InsightType": ""}]
    return {"TrailARN": doc["TrailARN"], "InsightSelectors": selectors}


def insights_off(doc: Document) -> bool:
    """Turn Insights off on a trail document; whether anything changed."""
    had = bool(doc.pop("InsightSelectors", None)) or bool(doc.get("HasInsightSelectors"))
    doc["HasInsightSelectors"] = False
    return had


def logs_write_management_events(doc: Mapping[str, Any]) -> bool:
    """Whether the trail's selectors (basic, or advanced) take write management events.
    A trail with no selectors put logs all management events (guide line 4608)."""
    advanced = doc.get("AdvancedEventSelectors")
    if advanced:
        return any(_advanced_takes_writes(s) for s in advanced)
    basic = doc.get("EventSelectors")
    if not basic:
        return True
    return any(
        s.get("IncludeManagementEvents", True) and s.get("ReadWriteType", "All") != "ReadOnly"
        for s in basic
    )


def _advanced_takes_writes(selector: Mapping[str, Any]) -> bool:
    fields = {f.get("Field"): f for f in selector.get("FieldSelectors", [])}
    category = fields.get("eventCategory", {})
    if "Management" not in (category.get("Equals") or []):
        return False
    read_only = fields.get("readOnly")
    return read_only is None or (read_only.get("Equals") or []) != ["true"]


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
