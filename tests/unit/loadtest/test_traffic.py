"""Traffic: eventIDs that carry their emit time, and how a generator paces itself."""

from __future__ import annotations

import uuid
from typing import Any

from loadtest.generator import owed, template
from loadtest.harness import assignment_settled, static_partitions
from loadtest.traffic import TrafficMix, account_ids, emitted_at, timed_event_id, trail_set
from recorder.events import decode, encode
from recorder.routing import RoutingEngine
from recorder.trails import Trail


def test_event_id_is_a_version_7_uuid_carrying_the_emit_time() -> None:
    eid = timed_event_id(1_764_560_000.123)
    u = uuid.UUID(eid)
    assert u.version == 7 and u.variant == uuid.RFC_4122
    assert emitted_at(eid) == 1_764_560_000.123
    assert len({timed_event_id(1.0) for _ in range(1000)}) == 1000


def test_generated_events_say_when_they_were_emitted() -> None:
    e = TrafficMix(account_ids(3), seed=1).event(1_764_560_042.5)
    assert emitted_at(e["eventID"]) == 1_764_560_042.5
    assert e["eventTime"] == "2025-12-01T03:34:02Z"


def test_a_generator_sends_what_is_due_and_carries_the_fraction() -> None:
    n, debt = owed(0.0, rate=1000, elapsed=0.0025)
    assert (n, round(debt, 6)) == (2, 0.5)
    n, debt = owed(debt, rate=1000, elapsed=0.0025)
    assert (n, round(debt, 6)) == (3, 0.0)


def test_a_starved_generator_catches_up_at_most_three_seconds() -> None:
    n, debt = owed(0.0, rate=1000, elapsed=5.0)
    assert (n, debt) == (3000, 0.0)


def test_static_members_split_the_partitions_round_robin() -> None:
    assert [static_partitions(4, 1, 0)] == ["0,1,2,3"]
    assert [static_partitions(4, 2, i) for i in range(2)] == ["0,2", "1,3"]
    assert [static_partitions(4, 4, i) for i in range(4)] == ["0", "1", "2", "3"]


def test_a_group_has_settled_when_every_member_has_partitions_covering_all() -> None:
    assert assignment_settled({"router-0": {"0", "1"}, "router-1": {"2", "3"}}, 4)
    assert not assignment_settled({"router-0": {"0", "1", "2", "3"}, "router-1": set()}, 4)
    assert not assignment_settled({"router-0": {"0"}, "router-1": {"2", "3"}}, 4)
    assert not assignment_settled({}, 4)


def _with_object(event: dict[str, Any], key: str) -> dict[str, Any]:
    """``event`` naming S3 object ``key`` instead of its own (as stamping does)."""
    old = event["requestParameters"]["key"]
    resources = [{**r, "ARN": r["ARN"].replace("/" + old, "/" + key)} for r in event["resources"]]
    return {
        **event,
        "requestParameters": {**event["requestParameters"], "key": key},
        "resources": resources,
    }


def test_a_stamped_template_is_the_event_encoded_with_its_own_id_and_time() -> None:
    """Generators send pre-encoded events: stamping a template's bytes gives exactly
    what encoding the same record with that eventID and eventTime (and, an S3 event,
    an object key of its own) gives, body and route header, so the router reads (and
    the signature covers) the real event."""
    accounts = account_ids(10)
    engine = RoutingEngine.compile([Trail.from_api(t) for t in trail_set(accounts, 20)])
    mix = TrafficMix(accounts, seed=3)
    objects = set()
    for _ in range(300):
        event = mix.event(1_764_560_000.0)
        t = template(event, engine)
        later = 1_764_563_723.25
        own = {**event, "eventID": timed_event_id(later), "eventTime": "2025-12-01T04:35:23Z"}
        if own["eventSource"] == "s3.amazonaws.com":
            own = _with_object(own, "k" + own["eventID"][-12:])
            objects.add(own["resources"][0]["ARN"])
            assert len(t.value_objects) == 2 and len(t.route_objects) == 1
        value, route = t.stamped(own["eventID"].encode(), own["eventTime"].encode())
        expected = encode(own)
        assert (value, route) == (bytes(expected), expected.route)
        assert decode(value) == own
        assert t.deliveries == tuple(
            (d.trail_arn, d.account_id, d.region) for d in engine.route(own)
        )
        assert t.key == own["recipientAccountId"].encode()
    assert len(objects) > 100  # every S3 event names an object of its own
