"""The trail model: DescribeTrails shape in and out, ARNs, limits."""

from __future__ import annotations

from typing import Any

import pytest

from recorder.trails import (
    DEFAULT_EVENT_SELECTORS,
    Trail,
    TrailError,
    check_trail_limit,
    parse_trail_arn,
    trail_arn,
    trails_in_region,
)

# describe-trails output of the guide, line 3326, plus an SNS topic ARN.
GUIDE_TRAIL: dict[str, Any] = {
    "IncludeGlobalServiceEvents": True,
    "Name": "my-trail",
    "TrailARN": "arn:aws:cloudtrail:us-east-2:123456789012:trail/my-trail",
    "LogFileValidationEnabled": False,
    "IsMultiRegionTrail": True,
    "S3BucketName": "my-bucket",
    "S3KeyPrefix": "my-prefix",
    "SnsTopicARN": "arn:aws:sns:us-east-2:123456789012:my-topic",
    "HomeRegion": "us-east-2",
}


def test_from_api_reads_describe_trails() -> None:
    t = Trail.from_api(GUIDE_TRAIL)
    assert t.name == "my-trail"
    assert t.account_id == "123456789012"
    assert t.home_region == "us-east-2"
    assert t.sns_topic_name == "my-topic"
    assert t.is_logging is True
    assert t.has_custom_event_selectors is False
    assert t.effective_event_selectors == DEFAULT_EVENT_SELECTORS


def test_to_api_is_describe_trails_shape() -> None:
    out = Trail.from_api(GUIDE_TRAIL).to_api()
    assert out == {
        **GUIDE_TRAIL,
        "SnsTopicName": "my-topic",
        "HasCustomEventSelectors": False,
        "HasInsightSelectors": False,
        "IsOrganizationTrail": False,
    }


def test_default_event_selectors_api() -> None:
    """Line 3497: get-event-selectors of a trail never given selectors."""
    assert Trail.from_api(GUIDE_TRAIL).event_selectors_api() == {
        "TrailARN": "arn:aws:cloudtrail:us-east-2:123456789012:trail/my-trail",
        "EventSelectors": [
            {
                "ExcludeManagementEventSources": [],
                "IncludeManagementEvents": True,
                "DataResources": [],
                "ReadWriteType": "All",
            }
        ],
    }


def test_document_round_trips() -> None:
    doc = {
        **GUIDE_TRAIL,
        "IsLogging": False,
        "KmsKeyId": "alias/KMS-CloudTrail-us-west-2",
        "EventSelectors": [{"ReadWriteType": "ReadOnly", "IncludeManagementEvents": True}],
    }
    t = Trail.from_api(doc)
    assert t.has_custom_event_selectors is True
    assert Trail.from_api(t.to_document()) == t
    assert t.to_document()["IsLogging"] is False


def test_control_api_members_ride_along() -> None:
    """The control API stores tags and timestamps in the same document; the logging
    times are the trail's last logging period (test_logging_state)."""
    doc = {
        **GUIDE_TRAIL,
        "Tags": [{"Key": "team", "Value": "audit"}],
        "CreationTime": "2019-06-10T17:14:09Z",
        "UpdateTime": "2019-06-10T17:14:09Z",
    }
    assert Trail.from_api(doc) == Trail.from_api(GUIDE_TRAIL)


def test_sns_topic_name_becomes_arn_in_home_region() -> None:
    doc = {k: v for k, v in GUIDE_TRAIL.items() if k != "SnsTopicARN"}
    t = Trail.from_api({**doc, "SnsTopicName": "my-topic"})
    assert t.sns_topic_arn == "arn:aws:sns:us-east-2:123456789012:my-topic"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"Name": "my_-trail"}, "InvalidTrailNameException"),
        ({"S3BucketName": "My_Bucket"}, "InvalidS3BucketNameException"),
        ({"S3KeyPrefix": "p" * 201}, "InvalidS3PrefixException"),
        (
            {"SnsTopicARN": "arn:aws:sns:us-east-2:123456789012:my.topic"},
            "InvalidSnsTopicNameException",
        ),
        ({"KmsKeyId": "alias/aws-logs"}, "InvalidKmsKeyIdException"),
        (
            {"TrailARN": "arn:aws:cloudtrail:us-east-2:1234:trail/my-trail"},
            "CloudTrailARNInvalidException",
        ),
        (
            {"TrailARN": "arn:aws:cloudtrail:us-east-2:123456789012:trail/other"},
            "CloudTrailARNInvalidException",
        ),
        ({"HomeRegion": "us-west-2"}, "InvalidHomeRegionException"),
        ({"IsMultiRegionTrail": "true"}, "InvalidParameterException"),
        ({"IsMultiRegion": True}, "InvalidParameterException"),
        (
            {
                "CloudWatchLogsRoleArn": "arn:aws:iam::123456789012:role/CloudTrail_CloudWatchLogs_Role"
            },
            "InvalidCloudWatchLogsLogGroupArnException",
        ),
        ({"EventSelectors": [{}] * 6}, "InvalidEventSelectorsException"),
        (
            {
                "EventSelectors": [{}],
                "AdvancedEventSelectors": [
                    {"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]}
                ],
            },
            "InvalidEventSelectorsException",
        ),
    ],
)
def test_from_api_refuses_with_cloudtrail_codes(change: dict[str, Any], code: str) -> None:
    with pytest.raises(TrailError) as err:
        Trail.from_api({**GUIDE_TRAIL, **change})
    assert err.value.code == code


def test_trail_arn_helpers() -> None:
    arn = trail_arn("us-east-2", "111111111111", "MyOrganizationTrail")
    assert arn == "arn:aws:cloudtrail:us-east-2:111111111111:trail/MyOrganizationTrail"
    parsed = parse_trail_arn(arn)
    assert (parsed.region, parsed.account_id, parsed.name) == (
        "us-east-2",
        "111111111111",
        "MyOrganizationTrail",
    )
    with pytest.raises(TrailError) as err:
        parse_trail_arn("aws:cloudtrail:us-east-2:111111111111:trail/MyOrganizationTrail")
    assert err.value.code == "CloudTrailARNInvalidException"


def _trail(name: str, region: str, multi: bool, account: str = "123456789012") -> Trail:
    return Trail.from_api(
        {
            "Name": name,
            "TrailARN": trail_arn(region, account, name),
            "S3BucketName": "my-bucket",
            "IsMultiRegionTrail": multi,
        }
    )


def test_guide_region_with_five_trails() -> None:
    """Line 493: two single-region and two all-region trails in us-west-1, and an
    all-region trail from ap-southeast-2, make five trails in us-west-1."""
    trails = [
        _trail("single-1", "us-west-1", False),
        _trail("single-2", "us-west-1", False),
        _trail("all-1", "us-west-1", True),
        _trail("all-2", "us-west-1", True),
        _trail("sydney-all", "ap-southeast-2", True),
    ]
    assert len(trails_in_region(trails, "123456789012", "us-west-1")) == 5
    assert len(trails_in_region(trails, "123456789012", "ap-southeast-2")) == 3
    with pytest.raises(TrailError) as err:
        check_trail_limit(trails, _trail("sixth", "us-west-1", False))
    assert err.value.code == "MaximumNumberOfTrailsExceededException"
    # A sixth all-region trail created anywhere is a sixth trail in us-west-1.
    with pytest.raises(TrailError):
        check_trail_limit(trails, _trail("sixth", "eu-west-1", True))
    # Single-region trails elsewhere, other accounts, and updates are fine.
    check_trail_limit(trails, _trail("sydney-2", "ap-southeast-2", False))
    check_trail_limit(trails, _trail("other", "us-west-1", False, account="210987654321"))
    check_trail_limit(trails, _trail("single-1", "us-west-1", False))
