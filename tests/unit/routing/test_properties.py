"""The compiled engine and the reference matcher agree on random trails and events."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from recorder.routing import RoutingEngine, reference_route
from recorder.selectors import SelectorIndex, event_from_record, trail_matches
from recorder.trails import Trail
from tests.unit.routing.strategies import (
    bucket_owners,
    cloudtrail_record,
    organizations,
    trail_docs,
)


@settings(max_examples=200, deadline=None)
@given(
    trail_docs(),
    organizations,
    st.lists(cloudtrail_record(), min_size=1, max_size=8),
    bucket_owners,
)
def test_engine_agrees_with_reference(
    docs: list[dict[str, Any]],
    orgs: dict[str, str],
    records: list[dict[str, Any]],
    owners: dict[str, str],
) -> None:
    trails = [Trail.from_api(d) for d in docs]
    engine = RoutingEngine.compile(trails, orgs, bucket_owners=owners)
    for record in records:
        got = engine.route(record)
        assert got == reference_route(trails, orgs, record, bucket_owners=owners)
        assert got == sorted(set(got))
        # and again, from the memo
        assert engine.route(record) == got


@settings(max_examples=150, deadline=None)
@given(trail_docs(), st.lists(cloudtrail_record(), min_size=1, max_size=8))
def test_index_agrees_with_trail_matches(
    docs: list[dict[str, Any]], records: list[dict[str, Any]]
) -> None:
    trails = [Trail.from_api(d) for d in docs]
    index = SelectorIndex(trails)
    for record in records:
        event = event_from_record(record)
        expected = {i for i, t in enumerate(trails) if t.routable and trail_matches(t, event)}
        assert index.match(event) == expected


@settings(max_examples=50, deadline=None)
@given(trail_docs())
def test_documents_round_trip(docs: list[dict[str, Any]]) -> None:
    for d in docs:
        t = Trail.from_api(d)
        assert Trail.from_api(t.to_document()) == t
