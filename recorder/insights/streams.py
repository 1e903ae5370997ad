"""Which series an API call feeds, and which trails receive an Insights event. Pure.

Insights analyze *write management* events (guide lines 443, 4959) and, since data
event Insights, *data* events, read and write (the API reference, InsightSelector
``EventCategories``; "the trail must log read or write data events"), of one account in
one region (line 4961: "not globally"). A call feeds the ``ApiCallRateInsight``
series of its API and, when it failed, the ``ApiErrorRateInsight`` series of its API
and error code. The category of a series is its API's (data APIs and management APIs
have different names); a trail receives the Insights events of the categories its
Insights type counts (``Trail.categories_of``: management only unless given).

An Insights event goes to every trail that has that Insights type on, is logging,
and covers the event's account and region: the account's own trails whose home
region it is or that are multi-region, and organization trails of the account's
organization (under ``AWSLogs/<org-id>/<account>/``, like its other files).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from recorder.aws.times import parse_seconds
from recorder.events.classify import classify
from recorder.insights.detector import CALL_RATE, ERROR_RATE, InsightEvent, SeriesKey
from recorder.trails import Trail
from recorder.trails.destination import INSIGHT, Destination

_API_EVENT_TYPES = frozenset({"AwsApiCall", None})


def series_of(record: Mapping[str, Any]) -> tuple[SeriesKey, ...]:
    """The series a decoded ``api-events`` record feeds: none unless it is a write
    management or a data API call with an account, region, source and name."""
    if record.get("eventType") not in _API_EVENT_TYPES:
        return ()
    source, name = record.get("eventSource"), record.get("eventName")
    account, region = record.get("recipientAccountId"), record.get("awsRegion")
    if not (source and name and account and region):
        return ()
    read_only, category = record.get("readOnly"), record.get("eventCategory")
    if read_only is None or category is None:
        c = classify(source, name)
        read_only = c.read_only if read_only is None else read_only
        if category is None:
            management = record.get("managementEvent")
            category = (
                c.event_category if management is None else ("Management" if management else "Data")
            )
    if category == "Management":
        if read_only:
            return ()
    elif category != "Data":
        return ()
    calls = SeriesKey(account, region, source, name, CALL_RATE, "")
    error = record.get("errorCode")
    if not error:
        return (calls,)
    return (calls, SeriesKey(account, region, source, name, ERROR_RATE, str(error)))


def category_of(key: SeriesKey) -> str:
    """``Management`` or ``Data``: the category of the series' API."""
    return classify(key.event_source, key.event_name).event_category


class Coverage:
    """Which Insights types are on for an account in a Region: those of its logging
    trails with Insights on (its own that exist in the Region, and its organization's
    organization trails). The stage keeps series only where a type is on: an account
    without Insights costs nothing."""

    def __init__(self, trails: Iterable[Trail], organizations: Mapping[str, str]) -> None:
        self._organizations = organizations
        self._own: dict[str, list[Trail]] = {}
        self._orgs: dict[str, list[Trail]] = {}
        for t in trails:
            if not t.insight_types or not t.is_logging:
                continue
            org = organizations.get(t.account_id) if t.is_organization_trail else None
            if org is not None:
                self._orgs.setdefault(org, []).append(t)
            else:
                self._own.setdefault(t.account_id, []).append(t)
        self._cache: dict[tuple[str, str, str], frozenset[str]] = {}

    def types(self, account_id: str, region: str, category: str = "Management") -> frozenset[str]:
        """The Insights types on for the account's calls of ``category`` in ``region``."""
        found = self._cache.get((account_id, region, category))
        if found is None:
            org = self._organizations.get(account_id)
            trails = [*self._own.get(account_id, ()), *self._orgs.get(org or "", ())]
            found = frozenset(
                i
                for t in trails
                if t.exists_in(region)
                for i in t.insight_types
                if category in t.categories_of(i)
            )
            if len(self._cache) > 100_000:
                self._cache.clear()
            self._cache[(account_id, region, category)] = found
        return found

    def covers(self, account_id: str) -> bool:
        """Insights on for the account in some Region."""
        org = self._organizations.get(account_id)
        return account_id in self._own or (org is not None and org in self._orgs)


def epoch_of(record: Mapping[str, Any]) -> float | None:
    try:
        return parse_seconds(str(record.get("eventTime", ""))).timestamp()
    except ValueError:
        return None


def destinations(
    event: InsightEvent, trails: Iterable[Trail], organizations: Mapping[str, str]
) -> list[Destination]:
    """The Insight destinations (trail, account folder, region) of one event."""
    key = event.key
    account_org = organizations.get(key.account_id)
    out = []
    for trail in trails:
        if key.insight_type not in trail.insight_types or not trail.is_logging:
            continue
        if category_of(key) not in trail.categories_of(key.insight_type):
            continue
        if not (trail.is_multi_region_trail or trail.home_region == key.region):
            continue
        org_id = None
        if trail.account_id != key.account_id:
            if not trail.is_organization_trail or account_org is None:
                continue
            if organizations.get(trail.account_id) != account_org:
                continue
            org_id = account_org
        elif trail.is_organization_trail and account_org is not None:
            org_id = account_org
        out.append(Destination(trail.trail_arn, key.account_id, key.region, org_id, INSIGHT))
    return sorted(out)
