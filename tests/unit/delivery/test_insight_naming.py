"""Insights files: ``AWSLogs/<account>/CloudTrail-Insight/<region>/YYYY/MM/DD/`` (guide
line 2773), named like CloudTrail's other files with the folder's name."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from recorder.delivery.naming import log_file_key
from recorder.trails.destination import AGGREGATED, INSIGHT, NETWORK_ACTIVITY, Destination

ARN = "arn:aws:cloudtrail:us-east-1:123456789012:trail/t"
WHEN = dt.datetime(2019, 11, 14, 0, 55, 3, tzinfo=dt.UTC)


def test_insight_key_layout() -> None:
    dest = Destination(ARN, "123456789012", "us-east-1", kind=INSIGHT)
    key = log_file_key(dest, "prefix", WHEN, "seed")
    assert re.fullmatch(
        r"prefix/AWSLogs/123456789012/CloudTrail-Insight/us-east-1/2019/11/14/"
        r"123456789012_CloudTrail-Insight_us-east-1_20191114T0055Z_[0-9A-Za-z]{16}\.json\.gz",
        key,
    ), key


def test_insight_destination_round_trips_and_differs_from_the_trails_own() -> None:
    plain = Destination(ARN, "123456789012", "us-east-1", "o-abc")
    insight = Destination(ARN, "123456789012", "us-east-1", "o-abc", kind=INSIGHT)
    assert Destination.from_key(insight.key()) == insight
    assert Destination.from_key(plain.key()) == plain
    assert insight.key() != plain.key()
    # Same digest chain as the trail's other files in that account and region.
    assert insight.digest_key() == plain.digest_key() == plain.key()
    assert "/CloudTrail/" in log_file_key(plain, None, WHEN, "s")


@pytest.mark.parametrize("raw", [b"a|1|r|o|Other", b"a|1|r|o|Insight|x", b"a|1|r"])
def test_bad_keys_are_refused(raw: bytes) -> None:
    with pytest.raises(ValueError):
        Destination.from_key(raw)


@pytest.mark.parametrize(
    ("kind", "folder"),
    [(NETWORK_ACTIVITY, "CloudTrail-NetworkActivity"), (AGGREGATED, "CloudTrail-Aggregated")],
)
def test_network_activity_and_aggregated_files_have_folders_of_their_own(
    kind: str, folder: str
) -> None:
    """AWS's "Finding your CloudTrail log files": ``CloudTrail-NetworkActivity`` and
    ``CloudTrail-Aggregated`` beside ``CloudTrail`` and ``CloudTrail-Insight``; the file
    name carries the folder's name as Insights files do (AWS documents no file name for
    these two)."""
    dest = Destination(ARN, "123456789012", "us-east-1", kind=kind)
    assert Destination.from_key(dest.key()) == dest
    assert dest.digest_key() == Destination(ARN, "123456789012", "us-east-1").key()
    key = log_file_key(dest, None, WHEN, "seed")
    assert re.fullmatch(
        rf"AWSLogs/123456789012/{folder}/us-east-1/2019/11/14/"
        rf"123456789012_{folder}_us-east-1_20191114T0055Z_[0-9A-Za-z]{{16}}\.json\.gz",
        key,
    ), key
