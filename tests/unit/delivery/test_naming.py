"""Log file keys per guide lines 585 (file name) and 4146 (folder layout)."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from recorder.delivery.naming import log_file_key, unique_string
from recorder.trails.destination import Destination

NAME = re.compile(r"^\d{12}_CloudTrail_[a-z0-9-]+_\d{8}T\d{4}Z_[A-Za-z0-9]{16}\.json\.gz$")
T = dt.datetime(2015, 8, 1, 2, 10, 33, tzinfo=dt.UTC)
DEST = Destination("arn:aws:cloudtrail:us-east-2:111122223333:trail/t", "111122223333", "us-east-2")


def test_guide_example_shape_line_605() -> None:
    key = log_file_key(DEST, None, T, "seed")
    folder, name = key.rsplit("/", 1)
    assert folder == "AWSLogs/111122223333/CloudTrail/us-east-2/2015/08/01"
    assert name.startswith("111122223333_CloudTrail_us-east-2_20150801T0210Z_")
    assert NAME.match(name)


def test_prefix_and_org_trail_line_3923() -> None:
    dest = Destination(DEST.trail_arn, "444455556666", "eu-west-1", "o-exampleorgid")
    key = log_file_key(dest, "my-prefix", T, "s")
    assert key.startswith(
        "my-prefix/AWSLogs/o-exampleorgid/444455556666/CloudTrail/eu-west-1/2015/08/01/"
    )
    assert key.rsplit("/", 1)[1].startswith("444455556666_CloudTrail_eu-west-1_")


def test_prefix_is_joined_as_validate_logs_joins_it() -> None:
    """Not normalised: a trailing slash stays (the digests' and the policy's keys agree,
    tests/unit/aws/test_s3.py); a leading one is refused by S3KeyPrefix validation."""
    key = log_file_key(DEST, "my-prefix/", T, "s")
    assert key.startswith("my-prefix//AWSLogs/111122223333/CloudTrail/us-east-2/2015/08/01/")


def test_utc_date_folder_from_non_utc_time() -> None:
    local = dt.datetime(2015, 8, 1, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    assert "/2015/08/02/" in log_file_key(DEST, None, local, "s")
    assert "_20150802T0430Z_" in log_file_key(DEST, None, local, "s")


def test_unique_string_is_deterministic_and_spread() -> None:
    assert unique_string("a|0|17") == unique_string("a|0|17")
    strings = {unique_string(f"a|0|{i}") for i in range(10_000)}
    assert len(strings) == 10_000
    assert all(re.fullmatch(r"[A-Za-z0-9]{16}", s) for s in list(strings)[:100])


def test_destination_key_round_trip() -> None:
    org = Destination(DEST.trail_arn, "1", "r", "o-1")
    for d in (DEST, org):
        assert Destination.from_key(d.key()) == d
    with pytest.raises(ValueError, match="not a destination key"):
        Destination.from_key(b"garbage")
