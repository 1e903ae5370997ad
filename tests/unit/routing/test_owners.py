"""Who owns a bucket: the operator's owners file and the trails' own buckets, never
the record (a tenant's producer writes it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from recorder.routing.owners import BucketOwners, load_owners_file, with_known_owners
from recorder.trails import Trail
from tests.unit.routing.guide_cases import trail


def _trail(account: str, name: str, bucket: str) -> Trail:
    return Trail.from_api(trail(name, account=account, bucket=bucket))


def test_a_trails_own_bucket_is_its_accounts_unless_another_account_delivers_there() -> None:
    trails = [
        _trail("111111111111", "trail-a", "a-logs"),
        _trail("111111111111", "trail-a2", "a-logs"),
        _trail("222222222222", "trail-b", "central"),
        _trail("333333333333", "trail-c", "central"),  # a shared archive: nobody's by default
    ]
    owners = BucketOwners.of(trails)
    assert owners.owner("a-logs") == "111111111111"
    assert owners.owner("central") is None
    declared = BucketOwners.of(trails, {"central": "444444444444", "a-logs": "555555555555"})
    assert declared.owner("central") == "444444444444"  # the operator's word wins
    assert declared.owner("a-logs") == "555555555555"


def test_records_name_the_owner_the_operator_vouches_for() -> None:
    record = {
        "eventSource": "s3.amazonaws.com",
        "resources": [
            {"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::central/k"},
            {"accountId": "111111111111", "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::central"},
        ],
    }
    stamped = with_known_owners(record, BucketOwners({"central": "444444444444"}))
    assert stamped["resources"][1]["accountId"] == "444444444444"
    assert record["resources"][1]["accountId"] == "111111111111"  # not changed in place
    assert with_known_owners(record, BucketOwners({})) is record


def test_owners_file(tmp_path: Path) -> None:
    path = tmp_path / "owners.json"
    path.write_text('{"central": "444444444444"}')
    assert load_owners_file(path) == {"central": "444444444444"}
    path.write_text('{"central": "4444"}')
    with pytest.raises(ValueError, match="the owner of 'central' must be a 12-digit account id"):
        load_owners_file(path)
