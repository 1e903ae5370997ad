"""ARNs read once, on botocore's ArnParser: trail ARNs in every partition, and the
clear ValueError a non-ARN gets."""

from __future__ import annotations

import pytest

from recorder.aws.arn import (
    Arn,
    TrailArn,
    account_of,
    arn_or_none,
    is_arn,
    is_log_group_arn,
    is_role_arn,
    is_trail_arn,
    parse_arn,
    parse_trail_arn,
    partition_for,
    partition_named,
    partition_of,
    partition_of_region,
    region_of,
    regional_arn,
    regional_endpoint,
    s3_arn,
    same_partition,
    trail_arn,
)


@pytest.mark.parametrize(
    ("arn", "expected"),
    [
        (
            "arn:aws:cloudtrail:us-east-2:123456789012:trail/MyTrail",
            TrailArn("aws", "us-east-2", "123456789012", "MyTrail"),
        ),
        (
            "arn:aws-cn:cloudtrail:cn-north-1:123456789012:trail/my.trail_1",
            TrailArn("aws-cn", "cn-north-1", "123456789012", "my.trail_1"),
        ),
        (
            "arn:aws-us-gov:cloudtrail:us-gov-west-1:123456789012:trail/Gov-Trail",
            TrailArn("aws-us-gov", "us-gov-west-1", "123456789012", "Gov-Trail"),
        ),
    ],
)
def test_trail_arns_of_each_partition_round_trip(arn: str, expected: TrailArn) -> None:
    assert parse_trail_arn(arn) == expected
    assert str(expected) == arn
    assert trail_arn(expected.region, expected.account_id, expected.name, expected.partition) == arn
    assert is_trail_arn(arn)


def test_trail_arn_of_a_commercial_region_is_in_the_aws_partition() -> None:
    assert trail_arn("eu-west-1", "111122223333", "t1") == (
        "arn:aws:cloudtrail:eu-west-1:111122223333:trail/t1"
    )


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:cloudtrail:bad",
        "aws:cloudtrail:us-east-2:111111111111:trail/MyOrganizationTrail",  # no "arn:"
        "arn:aws:cloudtrail:us-east-2:11111111111:trail/t",  # 11 digits
        "arn:aws:cloudtrail:us-east-2:111111111111:trail/",  # no name
        "arn:aws:cloudtrail:us-east-2:111111111111:trail/a/b",  # trail names have no "/"
        "arn:aws:cloudtrail::111111111111:trail/t",  # no region
        "arn:aws:cloudtrail:local:111111111111:trail/t",  # not a region's shape
        "arn:azure:cloudtrail:us-east-2:111111111111:trail/t",  # not a partition
        "arn:aws:sns:us-east-2:111111111111:trail/t",  # another service
        "arn:aws:cloudtrail:us-east-2:111111111111:eventdatastore/t",  # another resource
        "trail/x",
        "",
    ],
)
def test_malformed_trail_arns_are_refused_by_name(arn: str) -> None:
    assert not is_trail_arn(arn)
    with pytest.raises(ValueError, match=r"is not a trail ARN \(arn:<partition>:cloudtrail:"):
        parse_trail_arn(arn)


def test_a_non_string_is_not_a_trail_arn() -> None:
    assert not is_trail_arn(None)
    with pytest.raises(ValueError, match="None is not a trail ARN"):
        parse_trail_arn(None)


def test_parse_arn_keeps_the_resource_whole() -> None:
    arn = "arn:aws:logs:us-east-1:123456789012:log-group:CloudTrail/logs:*"
    assert parse_arn(arn) == Arn(
        "aws", "logs", "us-east-1", "123456789012", "log-group:CloudTrail/logs:*"
    )
    assert str(parse_arn(arn)) == arn


def test_account_region_and_partition_of() -> None:
    topic = "arn:aws-cn:sns:cn-northwest-1:444455556666:alerts"
    assert account_of(topic) == "444455556666"
    assert region_of(topic) == "cn-northwest-1"
    assert partition_of(topic) == "aws-cn"
    role = "arn:aws:iam::123456789012:role/CloudTrail_CloudWatchLogs_Role"
    assert region_of(role) == ""
    assert account_of("arn:aws:s3:::bucket/key") == ""


@pytest.mark.parametrize("value", ["123456789012", "arn:aws:sns:us-east-1:1", "", "arn"])
def test_account_and_region_of_a_non_arn_is_a_clear_error(value: str) -> None:
    assert not is_arn(value)
    assert arn_or_none(value) is None
    message = f"{value!r} is not an ARN (arn:partition:service:region:account:resource)"
    with pytest.raises(ValueError) as err:
        account_of(value)
    assert str(err.value) == message
    with pytest.raises(ValueError) as err:
        region_of(value)
    assert str(err.value) == message


def test_partition_of_an_arn_prefix() -> None:
    """Event selectors name all of a service's resources by a prefix (guide: arn:aws:s3)."""
    assert partition_of("arn:aws:s3") == "aws"
    assert partition_of("arn:aws-us-gov:lambda") == "aws-us-gov"
    assert partition_of("arn:aws:s3:::bucket/prefix") == "aws"
    for bad in ("arn", "arn:", "s3:aws:x"):
        with pytest.raises(ValueError, match="is not an ARN or ARN prefix"):
            partition_of(bad)


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("arn:aws:logs:us-east-1:123456789012:log-group:CloudTrail/DefaultLogGroup:*", True),
        ("arn:aws:logs:us-east-1:123456789012:log-group:my-group", True),
        ("arn:aws-us-gov:logs:us-gov-east-1:123456789012:log-group:g", True),
        ("arn:aws:logs:us-east-1:123456789012:log-group:", False),
        ("arn:aws:logs:us-east-1:123456789012:log-group:a:b", False),
        ("arn:aws:logs:us-east-1:123456789012:log-stream:a", False),
        ("arn:aws:logs::123456789012:log-group:a", False),
        ("arn:awsx:logs:us-east-1:123456789012:log-group:a", False),
        ("arn:aws:iam::123456789012:role/r", False),
        (7, False),
    ],
)
def test_log_group_arns(value: object, valid: bool) -> None:
    assert is_log_group_arn(value) is valid


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("arn:aws:iam::123456789012:role/CloudTrail_CloudWatchLogs_Role", True),
        ("arn:aws-cn:iam::123456789012:role/path/to/role", True),
        ("arn:aws:iam::123456789012:role/", False),
        ("arn:aws:iam:us-east-1:123456789012:role/r", False),
        ("arn:aws:iam::123456789012:user/u", False),
        ("arn:aws:iam::12345678901:role/r", False),
        ("arn:aws:iam::123456789012:role/r\n", False),
        (None, False),
    ],
)
def test_role_arns(value: object, valid: bool) -> None:
    assert is_role_arn(value) is valid


def test_regional_arns_check_partition_region_and_account() -> None:
    topic = "arn:aws-us-gov:sns:us-gov-west-1:123456789012:alerts"
    assert regional_arn(topic, "sns") == Arn(
        "aws-us-gov", "sns", "us-gov-west-1", "123456789012", "alerts"
    )
    assert regional_arn(topic, "kms") is None
    assert regional_arn("arn:aws:sns:local:123456789012:alerts", "sns") is None
    assert regional_arn("arn:aws:sns:us-east-1:1234:alerts", "sns") is None
    assert regional_arn("alerts", "sns") is None


# -- partitions ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("region", "partition", "suffix", "global_region"),
    [
        ("us-east-1", "aws", "amazonaws.com", "us-east-1"),
        ("eu-west-3", "aws", "amazonaws.com", "us-east-1"),
        ("cn-north-1", "aws-cn", "amazonaws.com.cn", "cn-north-1"),
        ("cn-northwest-1", "aws-cn", "amazonaws.com.cn", "cn-north-1"),
        ("us-gov-west-1", "aws-us-gov", "amazonaws.com", "us-gov-west-1"),
        ("us-gov-east-1", "aws-us-gov", "amazonaws.com", "us-gov-west-1"),
        ("us-iso-east-1", "aws-iso", "c2s.ic.gov", "us-iso-east-1"),
    ],
)
def test_each_region_has_its_partition(
    region: str, partition: str, suffix: str, global_region: str
) -> None:
    p = partition_of_region(region)
    assert (p.name, p.dns_suffix, p.global_region) == (partition, suffix, global_region)
    assert partition_for(region) == partition


def test_botocores_global_pseudo_regions_are_in_their_partition() -> None:
    assert partition_for("aws-global") == "aws"
    assert partition_for("aws-cn-global") == "aws-cn"
    assert partition_for("aws-us-gov-global") == "aws-us-gov"


def test_a_region_botocore_does_not_list_yet_goes_by_its_pattern() -> None:
    assert partition_for("cn-south-7") == "aws-cn"
    assert partition_for("us-gov-north-9") == "aws-us-gov"
    assert partition_for("eu-central-9") == "aws"


def test_trail_arns_take_the_partition_of_their_region() -> None:
    assert trail_arn("cn-north-1", "111122223333", "t") == (
        "arn:aws-cn:cloudtrail:cn-north-1:111122223333:trail/t"
    )
    assert trail_arn("us-gov-west-1", "111122223333", "t") == (
        "arn:aws-us-gov:cloudtrail:us-gov-west-1:111122223333:trail/t"
    )


def test_regional_endpoints_use_the_partitions_dns_suffix() -> None:
    assert regional_endpoint("sts", "cn-north-1") == "https://sts.cn-north-1.amazonaws.com.cn"
    assert regional_endpoint("sts", "us-gov-west-1") == "https://sts.us-gov-west-1.amazonaws.com"
    assert regional_endpoint("sts", "eu-west-1") == "https://sts.eu-west-1.amazonaws.com"


def test_s3_arns_and_partition_comparisons() -> None:
    assert s3_arn("b", partition="aws-cn") == "arn:aws-cn:s3:::b"
    assert s3_arn("b", "AWSLogs/1/x", partition="aws") == "arn:aws:s3:::b/AWSLogs/1/x"
    assert same_partition("cn-north-1", "cn-northwest-1")
    assert not same_partition("us-east-1", "cn-north-1")
    assert not same_partition("us-gov-west-1", "us-east-1")
    with pytest.raises(ValueError, match="unknown partition 'aws-mars'"):
        partition_named("aws-mars")
