"""The ``delivered`` manifest: the writer's message read and written back unchanged."""

from __future__ import annotations

import orjson
import pytest

from recorder.delivery.logfile import LogFile
from recorder.delivery.notices import manifest
from recorder.delivery.target import DeliveryTarget
from recorder.integrity import LogFileManifest
from recorder.trails.destination import INSIGHT, Destination

WIRE = {
    "trailARN": "arn:aws:cloudtrail:us-east-2:111122223333:trail/t",
    "accountId": "111122223333",
    "region": "us-east-2",
    "orgId": None,
    "bucket": "b",
    "key": "AWSLogs/111122223333/CloudTrail/us-east-2/2024/05/01/x.json.gz",
    "sha256": "ab" * 32,
    "oldestEventTime": "2024-05-01T10:00:00Z",
    "newestEventTime": "2024-05-01T10:04:00Z",
    "deliveryTime": "2024-05-01T10:05:00Z",
    "recordCount": 3,
}


def test_round_trip() -> None:
    m = LogFileManifest.from_json(WIRE)
    assert m.sha256 == "ab" * 32
    assert m.record_count == 3
    assert m.to_json() == WIRE


def test_fields_the_writer_adds_are_ignored() -> None:
    m = LogFileManifest.from_json({**WIRE, "cutReason": "interval"})
    assert m.to_json() == WIRE


def test_org_id_is_kept() -> None:
    assert LogFileManifest.from_json({**WIRE, "orgId": "o-abc123"}).chain.org_id == "o-abc123"


def test_missing_field_is_named() -> None:
    doc = dict(WIRE)
    del doc["sha256"]
    with pytest.raises(ValueError, match="manifest lacks 'sha256'"):
        LogFileManifest.from_json(doc)


@pytest.mark.parametrize("sha", ["AB" * 32, "ab" * 31, "zz" * 32])
def test_hash_must_be_lower_hex_sha256(sha: str) -> None:
    with pytest.raises(ValueError, match="64 lower-case hex"):
        LogFileManifest.from_json({**WIRE, "sha256": sha})


def test_bad_delivery_time_is_rejected_on_the_way_in() -> None:
    with pytest.raises(ValueError, match="Unable to parse date value: yesterday"):
        LogFileManifest.from_json({**WIRE, "deliveryTime": "yesterday"})


def test_the_writers_bytes_are_unchanged_and_name_the_trail_chain() -> None:
    """An Insights file of an organization trail: the message on ``delivered`` is
    byte for byte what the writer sent before the one destination type, and the
    digester files it in the trail's (non-Insights) chain."""
    arn = "arn:aws:cloudtrail:us-east-2:111122223333:trail/t"
    dest = Destination(arn, "444455556666", "eu-west-1", "o-abc123", kind=INSIGHT)
    log_file = LogFile(b"{}", b"", "ab" * 32, 3, "2024-05-01T10:00:00Z", "2024-05-01T10:04:00Z")
    key = "AWSLogs/o-abc123/444455556666/CloudTrail-Insight/eu-west-1/2024/05/01/x.json.gz"
    wire = manifest(dest, DeliveryTarget("b"), key, log_file, "2024-05-01T10:05:00Z", "interval")
    assert wire == (
        b'{"trailARN":"arn:aws:cloudtrail:us-east-2:111122223333:trail/t",'
        b'"accountId":"444455556666","region":"eu-west-1","orgId":"o-abc123","bucket":"b",'
        b'"key":"' + key.encode() + b'","sha256":"' + b"ab" * 32 + b'",'
        b'"oldestEventTime":"2024-05-01T10:00:00Z","newestEventTime":"2024-05-01T10:04:00Z",'
        b'"deliveryTime":"2024-05-01T10:05:00Z","cutReason":"interval","recordCount":3}'
    )
    m = LogFileManifest.from_json(orjson.loads(wire))
    assert m.chain == Destination(arn, "444455556666", "eu-west-1", "o-abc123")
    assert m.chain.digest_key() == dest.digest_key()


def test_a_bad_trail_arn_is_refused_on_the_way_in() -> None:
    with pytest.raises(ValueError, match="Invalid trail ARN provided: trail/t"):
        LogFileManifest.from_json({**WIRE, "trailARN": "trail/t"})
