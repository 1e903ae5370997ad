"""Digest keys: the guide's layout, checked against how validate-logs computes and lists them."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from awscli.customizations.cloudtrail.validation import DigestProvider, extract_digest_key_date

from recorder.integrity import digest_chain, digest_folder, digest_key
from recorder.integrity.naming import digest_key_time, is_chain_digest_key
from recorder.trails.destination import INSIGHT, Destination

END = dt.datetime(2015, 8, 17, 15, 1, 31, tzinfo=dt.UTC)
TRAIL = "arn:aws:cloudtrail:us-east-2:111122223333:trail/your-trail-name"


def test_guide_sample_key() -> None:
    # The digestS3Object of the guide's sample digest (line ~8206), reassembled.
    assert digest_key(Destination(TRAIL, "111122223333", "us-east-2"), None, END) == (
        "AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/"
        "111122223333_CloudTrail-Digest_us-east-2_your-trail-name_us-east-2_20150817T150131Z.json.gz"
    )


def test_prefix_org_and_delivery_region() -> None:
    # An org trail's digest for a member account, in a region other than the home region.
    chain = Destination(TRAIL, "444455556666", "eu-west-1", "o-exampleorgid")
    assert digest_key(chain, "logs/ct", END) == (
        "logs/ct/AWSLogs/o-exampleorgid/444455556666/CloudTrail-Digest/eu-west-1/2015/08/17/"
        "444455556666_CloudTrail-Digest_eu-west-1_your-trail-name_us-east-2_20150817T150131Z.json.gz"
    )
    assert digest_folder(chain, "logs/ct") == (
        "logs/ct/AWSLogs/o-exampleorgid/444455556666/CloudTrail-Digest/eu-west-1"
    )


def test_naive_and_offset_times_spell_the_same_key() -> None:
    chain = Destination(TRAIL, "111122223333", "us-east-2")
    cest = dt.timezone(dt.timedelta(hours=2))
    assert digest_key(chain, None, END.replace(tzinfo=None)) == digest_key(
        chain, None, END.astimezone(cest).replace(microsecond=500)
    )


@pytest.mark.parametrize("prefix", [None, "p", "a/b"])
@pytest.mark.parametrize("org_id", [None, "o-abc123"])
@pytest.mark.parametrize("region", ["us-east-2", "ap-south-1"])
def test_the_cli_computes_and_matches_the_same_keys(
    prefix: str | None, org_id: str | None, region: str
) -> None:
    chain = Destination(TRAIL, "111122223333", region, org_id)
    cli = DigestProvider(
        s3_client_provider=None,
        account_id="111122223333",
        trail_name="your-trail-name",
        trail_home_region="us-east-2",
        trail_source_region=region,
        organization_id=org_id,
    )
    # The CLI's listing marker is the key a digest ending a minute earlier would have.
    assert cli._create_digest_key(END, prefix) == digest_key(
        chain, prefix, END - dt.timedelta(minutes=1)
    )
    assert cli._create_digest_prefix(END, prefix) == digest_folder(chain, prefix)
    key = digest_key(chain, prefix, END)
    assert re.match(cli._create_digest_key_regex(prefix), key)
    assert extract_digest_key_date(key) == digest_key_time(key) == "20150817T150131Z"
    assert is_chain_digest_key(chain, key)


def test_other_trails_keys_are_not_the_chains() -> None:
    chain = Destination(TRAIL, "111122223333", "us-east-2")
    other = Destination(TRAIL.replace("your-trail-name", "other"), "111122223333", "us-east-2")
    assert not is_chain_digest_key(chain, digest_key(other, None, END))
    assert not is_chain_digest_key(
        chain, digest_key(Destination(TRAIL, "111122223333", "us-west-2"), None, END)
    )


def test_chain_properties_and_arn_check() -> None:
    chain = Destination(TRAIL, "111122223333", "eu-west-1")
    assert (chain.trail_name, chain.home_region) == ("your-trail-name", "us-east-2")
    assert Destination.from_json(chain.to_json()) == chain
    assert digest_chain(chain) is chain
    with pytest.raises(ValueError, match="Invalid trail ARN provided: trail/x"):
        digest_chain(Destination("trail/x", "111122223333", "us-east-2"))


def test_insights_files_are_in_the_trail_chain() -> None:
    insight = Destination(TRAIL, "111122223333", "eu-west-1", "o-exampleorgid", kind=INSIGHT)
    assert digest_chain(insight) == Destination(
        TRAIL, "111122223333", "eu-west-1", "o-exampleorgid"
    )
