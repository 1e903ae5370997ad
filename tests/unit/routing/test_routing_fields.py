"""Routing reads nothing but the routing fields (issue 29): routing
``routing_fields(record)`` decides exactly as routing the record, admitted or not, so
the router may decide on the producer's ``recorder-route`` header alone; and the
header an honest producer sends is always what the router reads back from the body."""

from __future__ import annotations

import copy
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from loadtest.traffic import TrafficMix, account_ids, trail_set
from recorder.events import decode, encode
from recorder.events.routing_fields import read_route_header, routing_fields
from recorder.provenance.admission import fill_classification
from recorder.routing import RoutingEngine
from recorder.selectors import RecordError
from recorder.trails import Trail
from tests.unit.events.test_properties import api_events, json_values, text
from tests.unit.routing.strategies import (
    bucket_owners,
    cloudtrail_record,
    organizations,
    trail_docs,
)

#: Members routing never reads, with values that would matter if it did.
noise = st.dictionaries(
    st.sampled_from(
        ["requestParameters", "responseElements", "sourceIPAddress", "userAgent", "requestID"]
    ),
    json_values,
)


def _route(engine: RoutingEngine, record: dict[str, Any], produced_ms: int | None) -> Any:
    try:
        return engine.route(record, produced_ms)
    except RecordError as exc:
        return f"RecordError: {exc}"


@settings(max_examples=100, deadline=None)
@given(
    trail_docs(),
    organizations,
    st.lists(st.tuples(cloudtrail_record(), noise), min_size=1, max_size=8),
    bucket_owners,
    st.none() | st.integers(1_796_101_199_000, 1_796_101_206_000),  # around EVENT_TIMES
)
def test_routing_the_fields_is_routing_the_record(
    docs: list[dict[str, Any]],
    orgs: dict[str, str],
    records: list[tuple[dict[str, Any], dict[str, Any]]],
    owners: dict[str, str],
    produced_ms: int | None,
) -> None:
    engine = RoutingEngine.compile([Trail.from_api(d) for d in docs], orgs, bucket_owners=owners)
    for base, extra in records:
        record = {**base, **extra, "userIdentity": {**base["userIdentity"], "type": "Root"}}
        fields = routing_fields(record)
        expected = _route(engine, record, produced_ms)
        assert _route(engine, fields, produced_ms) == expected
        # what admission adds (the classification) changes nothing either
        admitted = copy.deepcopy(record)
        fill_classification(admitted)
        assert _route(engine, admitted, produced_ms) == expected
        # the header's form: JSON there and back
        assert _route(engine, read_route_header(orjson.dumps(fields)), produced_ms) == expected


def test_routing_the_load_tests_traffic_by_its_fields() -> None:
    accounts = account_ids(10)
    engine = RoutingEngine.compile([Trail.from_api(t) for t in trail_set(accounts, 20)])
    mix = TrafficMix(accounts)
    selected = 0
    for _ in range(2000):
        record = mix.event(1_796_101_200.0)
        expected = engine.route(record)
        assert engine.route(read_route_header(encode(record).route)) == expected
        selected += bool(expected)
    assert 0 < selected < 2000  # some selected, some not: both paths taken


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        api_events,
        st.tuples(
            st.fixed_dictionaries({"eventVersion": text, "eventTime": text, "awsRegion": text}),
            st.dictionaries(
                st.sampled_from(["readOnly", "resources", "userIdentity", "tlsDetails", "x"]),
                json_values,
                max_size=4,
            ),
        ).map(lambda pair: pair[1] | pair[0]),
    )
)
def test_an_honest_header_is_what_the_body_reads_back(record: dict[str, Any]) -> None:
    value = encode(record)
    assert read_route_header(value.route) == routing_fields(decode(value))


def test_the_fields_keep_what_routing_reads_and_nothing_else() -> None:
    record = {
        "eventVersion": "1.09",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::1:user/u", "accountId": "1"},
        "eventTime": "2026-12-01T05:00:00Z",
        "eventSource": "sts.amazonaws.com",
        "eventName": "GetCallerIdentity",
        "awsRegion": "us-east-1",
        "requestParameters": {"big": "x" * 100},
        "readOnly": True,
        "resources": [{"type": "T", "ARN": "a", "accountId": None, "extra": 1}, "odd"],
        "eventType": "AwsApiCall",
        "managementEvent": None,
        "recipientAccountId": "111111111111",
        "tlsDetails": {"tlsVersion": "TLSv1.3", "clientProvidedHostHeader": "sts.amazonaws.com"},
        "eventID": "e",
    }
    assert routing_fields(record) == {
        "eventTime": "2026-12-01T05:00:00Z",
        "eventSource": "sts.amazonaws.com",
        "eventName": "GetCallerIdentity",
        "awsRegion": "us-east-1",
        "eventID": "e",
        "readOnly": True,
        "eventType": "AwsApiCall",
        "managementEvent": None,  # a null stays null
        "recipientAccountId": "111111111111",
        "userIdentity": {"arn": "arn:aws:iam::1:user/u", "accountId": "1"},
        "tlsDetails": {"clientProvidedHostHeader": "sts.amazonaws.com"},
        "resources": [{"type": "T", "ARN": "a", "accountId": None}, "odd"],
    }
    assert routing_fields({**record, "resources": "not a list"})["resources"] == "not a list"
    assert "userIdentity" not in routing_fields({**record, "userIdentity": "root"})
