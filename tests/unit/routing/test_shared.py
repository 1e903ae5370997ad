"""sharedEventID (guide line 11650): one action delivered to two accounts gives two
copies with one sharedEventID, each with its own eventID and recipientAccountId; an
action that reaches one account has none. Derived, so a replay gives the same copies."""

from __future__ import annotations

from typing import Any

import orjson

from recorder.provenance.admission import fill_classification
from recorder.routing import RoutingEngine
from recorder.routing.service import rendered_for
from recorder.routing.shared import copy_event_id, shared_event_id
from recorder.trails import Trail
from tests.unit.routing.guide_cases import BOB, OWNER_TRAIL, YOU, _owner_trail, s3_object

EVENT_ID = "3e6bb9fe-0f4c-4e3b-a5bb-6c9d0a0f2f11"
BOB_TRAIL_ALL = _owner_trail(BOB, "bobs-trail")


def _copies(record: dict[str, Any], owner: str = YOU) -> dict[str, dict[str, Any]]:
    fill_classification(record)
    engine = RoutingEngine.compile(
        [Trail.from_api(OWNER_TRAIL), Trail.from_api(BOB_TRAIL_ALL)],
        bucket_owners={"owner-bucket": owner},  # the operator's owners file
    )
    deliveries = engine.route(record)
    rendered = rendered_for(record, deliveries, engine.owners)
    return {a: orjson.loads(v) for a, v in rendered.items()}


def test_put_object_on_another_accounts_bucket_reaches_both_with_one_shared_id() -> None:
    # Bob puts an object into the bucket you own: Bob's trail and yours both log it.
    put = s3_object("PutObject", EVENT_ID, "owner-bucket", "k.txt", YOU, account=BOB)
    copies = _copies(put)
    assert set(copies) == {BOB, YOU}
    bob, you = copies[BOB], copies[YOU]
    assert bob["sharedEventID"] == you["sharedEventID"] == shared_event_id(EVENT_ID)
    assert bob["eventID"] == EVENT_ID  # the caller's copy keeps the action's id
    assert you["eventID"] == copy_event_id(EVENT_ID, BOB, YOU) != EVENT_ID
    assert (bob["recipientAccountId"], you["recipientAccountId"]) == (BOB, YOU)
    assert bob["userIdentity"] == you["userIdentity"]  # the same caller in both
    # a replay of the same record produces byte-identical copies
    again = s3_object("PutObject", EVENT_ID, "owner-bucket", "k.txt", YOU, account=BOB)
    assert _copies(again) == copies


def test_action_in_one_account_has_no_shared_id() -> None:
    own = s3_object("PutObject", EVENT_ID, "owner-bucket", "k.txt", YOU, account=YOU)
    copies = _copies(own)
    assert set(copies) == {YOU}
    assert "sharedEventID" not in copies[YOU]
    assert copies[YOU]["eventID"] == EVENT_ID


def test_caller_copy_carries_shared_id_even_when_the_owner_has_no_trail() -> None:
    # Bob writes into Carol's bucket; only Bob has a trail. Carol still receives the event
    # in CloudTrail, so Bob's copy is one of two and carries the shared id.
    put = s3_object("PutObject", EVENT_ID, "owner-bucket", "k.txt", "333333333333", account=BOB)
    copies = _copies(put, owner="333333333333")
    assert set(copies) == {BOB}
    assert copies[BOB]["sharedEventID"] == shared_event_id(EVENT_ID)


def test_different_actions_have_different_shared_ids() -> None:
    other = "9b1d2f9e-6a0b-4f4c-8c1e-0d0f1e2a3b4c"
    assert shared_event_id(EVENT_ID) != shared_event_id(other)
    assert copy_event_id(EVENT_ID, BOB, YOU) != copy_event_id(other, BOB, YOU)
