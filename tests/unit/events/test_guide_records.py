"""Every record the guide prints: it validates, survives the wire, and renders in order."""

from __future__ import annotations

import json
import re
from typing import Any

import orjson
import pytest

from recorder.events import (
    InvalidEventError,
    decode,
    encode,
    log_file_bytes,
    render_record,
    validate_record,
)
from recorder.events.schema import FIELD_ORDER
from tests.unit.events.guide import ENTRIES, GUIDE, RECORDS, record_at, same

ids = [f"line{e['line']}" for e in RECORDS]


def test_fixture_holds_every_record_the_guide_prints() -> None:
    if not GUIDE.exists():
        pytest.skip(f"the guide is not at {GUIDE}")
    lines = GUIDE.read_text(encoding="utf-8").split("\n")
    in_guide = {n for n, text in enumerate(lines, 1) if '"eventVersion"' in text}
    assert in_guide == {e["line"] for e in RECORDS}
    assert len(in_guide) == 22
    for entry in RECORDS:
        version = re.search(r'"eventVersion": "([^"]+)"', lines[entry["line"] - 1])
        assert version is not None
        assert version[1] == entry["record"]["eventVersion"]


def test_fragments_without_a_record_say_why() -> None:
    skipped = [e for e in ENTRIES if "record" not in e]
    assert [e["lines"] for e in skipped] == ["728-751", "934-943"]
    assert all(e["skipped"] for e in skipped)


@pytest.mark.parametrize("entry", RECORDS, ids=ids)
def test_guide_record_validates(entry: dict[str, Any]) -> None:
    record = entry["record"]
    if "invalid" not in entry:
        validate_record(record)
        return
    with pytest.raises(InvalidEventError) as caught:
        validate_record(record)
    assert str(caught.value) == entry["invalid"]["error"]


@pytest.mark.parametrize("line", [12137, 12176, 12209, 12247])
def test_sign_in_records_validate_once_the_account_typo_is_fixed(line: int) -> None:
    fixed = json.loads(json.dumps(record_at(line)).replace('"11112223333', '"111122223333'))
    fixed = json.loads(json.dumps(fixed).replace("::11112223333:", "::111122223333:"))
    validate_record(fixed)
    assert fixed["recipientAccountId"] == "111122223333"


def test_update_trail_record_validates_with_the_tail_the_guide_prints_apart() -> None:
    record = record_at(912)
    # lines 940-943: the members the first rendering lost
    record |= {
        "requestID": "5d40662a-49f7-11e6-97e4-d9cb6ff7d6a3",
        "eventID": "b7d4398e-b2f0-4faa-9c76-e2d316a8d67f",
        "eventType": "AwsApiCall",
        "recipientAccountId": "123456789012",
    }
    validate_record(record)


@pytest.mark.parametrize("entry", RECORDS, ids=ids)
def test_guide_record_round_trips(entry: dict[str, Any]) -> None:
    record = entry["record"]
    assert same(decode(encode(record)), record)


@pytest.mark.parametrize("entry", RECORDS, ids=ids)
def test_guide_record_renders_in_log_file_order(entry: dict[str, Any]) -> None:
    record = entry["record"]
    rendered = render_record(decode(encode(record)))
    assert same(rendered, record)
    known = [k for k in rendered if k in FIELD_ORDER]
    assert known == sorted(known, key=FIELD_ORDER.index)
    if entry["line"] == 11315:
        # invokedBy belongs in userIdentity; printed at top level it is an unnamed member
        assert list(rendered) == [k for k in record if k != "invokedBy"] + ["invokedBy"]
    else:
        assert list(rendered) == list(record)  # exactly the guide's own order


def test_guide_order_is_the_examples_order_not_the_reference_list() -> None:
    # The reference lists eventType before readOnly (lines 11576, 11610); every example
    # that has both writes readOnly and resources first, and so do we.
    rotate = render_record(record_at(12021))
    assert list(rotate)[-6:] == [
        "eventID",
        "readOnly",
        "resources",
        "eventType",
        "recipientAccountId",
        "serviceEventDetails",
    ]


def test_rotate_key_service_event_keeps_its_details() -> None:
    back = decode(encode(record_at(12021)))
    assert back["userIdentity"] == {"accountId": "123456789012", "invokedBy": "AWS Internal"}
    assert back["serviceEventDetails"] == {"keyId": "7944f0ec-EXAMPLE"}
    assert back["resources"] == [
        {
            "ARN": "arn:aws:kms:us-east-2:123456789012:key/7944f0ec-EXAMPLE",
            "accountId": "123456789012",
            "type": "AWS::KMS::Key",
        }
    ]
    assert back["requestParameters"] is None
    assert back["responseElements"] is None


def test_start_logging_keeps_empty_session_issuer_and_web_identity() -> None:
    back = decode(encode(record_at(11315)))
    assert back["userIdentity"]["sessionContext"] == {
        "sessionIssuer": {},
        "webIdFederationData": {},
        "attributes": {"mfaAuthenticated": "false", "creationDate": "2019-06-18T22:28:31Z"},
    }
    assert back["invokedBy"] == "signin.amazonaws.com"
    assert back["readOnly"] is False


def test_insights_event_keeps_insight_details() -> None:
    back = decode(encode(record_at(11388)))
    assert "userIdentity" not in back
    assert back["eventCategory"] == "Insight"
    assert back["insightDetails"]["insightContext"] == {
        "statistics": {"baseline": {"average": 1.7561507937}, "insight": {"average": 50}},
        "insightDuration": 8,
    }


def test_log_file_of_the_guide_records_reads_back() -> None:
    records = [decode(encode(e["record"])) for e in RECORDS]
    body = log_file_bytes(records)
    assert body.startswith(b'{"Records":[{"eventVersion":"1.0","userIdentity":{"type":"IAMUser"')
    assert same(orjson.loads(body), {"Records": [e["record"] for e in RECORDS]})
