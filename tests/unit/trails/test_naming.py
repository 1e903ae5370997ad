"""Naming rules of guide line 4380, each rule by an example that breaks only it."""

from __future__ import annotations

import pytest

from recorder.trails import (
    TrailError,
    validate_bucket_name,
    validate_kms_key_id,
    validate_s3_key_prefix,
    validate_sns_topic,
    validate_trail_name,
)


@pytest.mark.parametrize(
    "name",
    ["TrailName", "My-Management-Events-Tail", "a.b_c-d", "abc", "x" * 128, "MyOrganizationTrail"],
)
def test_valid_trail_names(name: str) -> None:
    validate_trail_name(name)


CHARS = (
    "Trail name or ARN can only contain uppercase letters, lowercase letters, numbers, "
    "periods (.), hyphens (-), and underscores (_)."
)
ADJACENT = "Trail name or ARN cannot have adjacent periods (.), hyphens (-), or underscores (_)."


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("my trail", CHARS),  # line 4384
        ("tráil", CHARS),
        ("my#trail", CHARS),
        ("-trail", "Trail name must starts with a letter or number."),  # line 4385
        ("trail.", "Trail name must ends with a letter or number."),
        ("trail!", "Trail name must ends with a letter or number."),
        (
            "ab",  # line 4387
            "Trail name too short. Minimum allowed length: 3 characters. "
            "Specified name length: 2 characters.",
        ),
        (
            "x" * 129,
            "Trail name too long. Maximum allowed length: 128 characters. "
            "Specified name length: 129 characters.",
        ),
        ("my-_namespace", ADJACENT),  # line 4388
        ("my--namespace", ADJACENT),
        ("my..trail", ADJACENT),
        ("192.168.5.4", "Trail name cannot be formatted as an IP address."),  # line 4389
        ("", "Trail name cannot be blank!"),
        (None, "Trail name cannot be blank!"),
    ],
)
def test_invalid_trail_names(name: object, message: str) -> None:
    """Each rule with AWS's own message for it (recorder.trails.errors.ANSWERS)."""
    with pytest.raises(TrailError) as err:
        validate_trail_name(name)
    assert (err.value.code, err.value.message) == ("InvalidTrailNameException", message)


@pytest.mark.parametrize(
    "name",
    ["my-bucket", "read-only-bucket", "my.bucket.1", "abc", "a" * 63, "my-organization-bucket"],
)
def test_valid_bucket_names(name: str) -> None:
    validate_bucket_name(name)


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("ab", "3 to 63 characters (4395)"),
        ("a" * 64, "3 to 63 characters (4395)"),
        ("My-Bucket", "lower-case only (4395)"),
        (".bucket", "each label starts with a letter or number (4396)"),
        ("my_bucket", "no underscores (4397)"),
        ("bucket-", "cannot end with a dash (4397)"),
        ("my..bucket", "no consecutive periods (4397)"),
        ("my-.bucket", "no dash next to a period (4397)"),
        ("my.-bucket", "no dash next to a period (4397)"),
        ("198.51.100.24", "not an IP address (4398)"),
    ],
)
def test_invalid_bucket_names(name: str, rule: str) -> None:
    with pytest.raises(TrailError) as err:
        validate_bucket_name(name)
    assert err.value.code == "InvalidS3BucketNameException", rule


def test_s3_key_prefix_at_most_200_characters() -> None:
    validate_s3_key_prefix("my-prefix")
    validate_s3_key_prefix("p" * 200)
    with pytest.raises(TrailError) as err:
        validate_s3_key_prefix("p" * 201)
    assert err.value.code == "InvalidS3PrefixException"


@pytest.mark.parametrize(
    "key",
    [
        "alias/KMS-CloudTrail-us-west-2",  # the guide's example alias, line 4406
        "alias/a",
        "alias/" + "a" * 32,
        "alias/team/logs_1",
        "arn:aws:kms:us-east-2:123456789012:alias/MyAliasName",
        "arn:aws:kms:us-east-2:123456789012:key/12345678-1234-1234-1234-123456789012",
        "12345678-1234-1234-1234-123456789012",
        "mrk-12345678123412341234123456789012",
    ],
)
def test_valid_kms_key_ids(key: str) -> None:
    validate_kms_key_id(key)


@pytest.mark.parametrize(
    ("key", "rule"),
    [
        ("alias/", "between 1 and 32 characters (4410)"),
        ("alias/" + "a" * 33, "between 1 and 32 characters (4410)"),
        ("alias/logs.key", "only A-Z a-z 0-9 - / _ (4411)"),
        ("alias/awslogs", "cannot begin with aws (4412)"),
        ("arn:aws:kms:us-east-2:123456789012:alias/aws/cloudtrail", "cannot begin with aws"),
        ("not-a-key", "neither key id, ARN nor alias"),
    ],
)
def test_invalid_kms_key_ids(key: str, rule: str) -> None:
    with pytest.raises(TrailError) as err:
        validate_kms_key_id(key)
    assert err.value.code == "InvalidKmsKeyIdException", rule


@pytest.mark.parametrize(
    "topic",
    [
        "MyTopic",
        "a",
        "t" * 256,
        "cloudtrail_log-notices",
        "arn:aws:sns:us-east-2:123456789012:MyTopic",
    ],
)
def test_valid_sns_topics(topic: str) -> None:
    validate_sns_topic(topic)


@pytest.mark.parametrize("topic", ["", "t" * 257, "my.topic", "my topic"])
def test_invalid_sns_topics(topic: str) -> None:
    """Line 4262: 1-256 ASCII letters, numbers, underscores or hyphens."""
    with pytest.raises(TrailError) as err:
        validate_sns_topic(topic)
    assert err.value.code == "InvalidSnsTopicNameException"


@pytest.mark.parametrize(
    "prefix",
    [
        "../",
        "../../etc",
        "%2e%2e/",
        "%252e%252e/x",
        "/leading",
        "\\leading",
        "x/../../AWSLogs/222222222222",
        "a/./b",
        "a//b",
        "line\nbreak",
        "nul\x00byte",
        "tab\there",
        "enc%0Aoded",
        "back\\..\\slash",
    ],
)
def test_s3_key_prefix_must_not_escape_or_carry_control_characters(prefix: str) -> None:
    with pytest.raises(TrailError) as err:
        validate_s3_key_prefix(prefix)
    assert err.value.code == "InvalidS3PrefixException"


@pytest.mark.parametrize("prefix", ["logs", "a/b", "a/b/", "a.b/c..d", "team-1/prod_2", "x%20y"])
def test_s3_key_prefix_ordinary_folders(prefix: str) -> None:
    validate_s3_key_prefix(prefix)
