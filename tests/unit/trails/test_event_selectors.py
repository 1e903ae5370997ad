"""Event selector validation: InvalidEventSelectorsException naming the bad value."""

from __future__ import annotations

from typing import Any

import pytest

from recorder.trails import (
    AdvancedEventSelector,
    DataResource,
    EventSelector,
    FieldSelector,
    TrailError,
    parse_advanced_event_selectors,
    parse_event_selectors,
    parse_selectors,
)


def _invalid(raw: Any, fragment: str) -> None:
    with pytest.raises(TrailError) as err:
        parse_event_selectors(raw)
    assert err.value.code == "InvalidEventSelectorsException"
    assert fragment in err.value.message


def test_guide_example_with_specific_selectors() -> None:
    """Line 3526: two S3 bucket/prefix values and one Lambda function."""
    raw = [
        {
            "ReadWriteType": "All",
            "IncludeManagementEvents": True,
            "DataResources": [
                {
                    "Type": "AWS::S3::Object",
                    "Values": ["arn:aws:s3:::mybucket/prefix", "arn:aws:s3:::mybucket2/prefix2"],
                },
                {
                    "Type": "AWS::Lambda::Function",
                    "Values": [
                        "arn:aws:lambda:us-west-2:999999999999:function:hello-world-python-function"
                    ],
                },
            ],
        }
    ]
    (selector,) = parse_event_selectors(raw)
    assert selector == EventSelector(
        "All",
        True,
        (
            DataResource(
                "AWS::S3::Object",
                ("arn:aws:s3:::mybucket/prefix", "arn:aws:s3:::mybucket2/prefix2"),
            ),
            DataResource(
                "AWS::Lambda::Function",
                ("arn:aws:lambda:us-west-2:999999999999:function:hello-world-python-function",),
            ),
        ),
        (),
    )
    assert selector.to_api()["DataResources"] == raw[0]["DataResources"]


@pytest.mark.parametrize("value", ["arn:aws:s3", "arn:aws:s3:::"])
def test_all_buckets_forms(value: str) -> None:
    """Both spellings of "all S3 buckets" the guide uses (lines 4740 and 3574)."""
    (s,) = parse_event_selectors(
        [{"DataResources": [{"Type": "AWS::S3::Object", "Values": [value]}]}]
    )
    assert s.data_resources[0].values == (value,)


def test_defaults_are_all_management_events() -> None:
    """Line 4613: by default a selector logs all management events, no data events."""
    assert parse_event_selectors([{}]) == (EventSelector("All", True, (), ()),)


def test_kms_exclusion_and_its_removal() -> None:
    """Lines 4661 and 4674: exclude kms.amazonaws.com; an empty string removes it."""
    (s,) = parse_event_selectors([{"ExcludeManagementEventSources": ["kms.amazonaws.com"]}])
    assert s.exclude_management_event_sources == ("kms.amazonaws.com",)
    (s,) = parse_event_selectors([{"ExcludeManagementEventSources": [""]}])
    assert s.exclude_management_event_sources == ()


def test_five_selectors_allowed_six_refused() -> None:
    """Line 1250: 5 event selectors per trail."""
    assert len(parse_event_selectors([{}] * 5)) == 5
    _invalid([{}] * 6, "6 given")
    _invalid([], "0 given")


def _s3_values(n: int, bucket: str = "b") -> list[str]:
    return [f"arn:aws:s3:::{bucket}/p{i}" for i in range(n)]


def test_250_data_resources_across_selectors() -> None:
    """Line 1251: 5 x 50 and 3 x 50 + 99 + 1 are allowed, 5 x 100 is not."""
    five_by_50 = [{"DataResources": [{"Type": "AWS::S3::Object", "Values": _s3_values(50)}]}] * 5
    assert len(parse_event_selectors(five_by_50)) == 5
    mixed = [
        {"DataResources": [{"Type": "AWS::S3::Object", "Values": _s3_values(n)}]}
        for n in (50, 50, 50, 99, 1)
    ]
    assert len(parse_event_selectors(mixed)) == 5
    five_by_100 = [{"DataResources": [{"Type": "AWS::S3::Object", "Values": _s3_values(100)}]}] * 5
    _invalid(five_by_100, "500 given")
    _invalid(
        [{"DataResources": [{"Type": "AWS::S3::Object", "Values": _s3_values(251)}]}], "251 given"
    )


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ([{"ReadWriteType": "Both"}], "Value Both for ReadWriteType is invalid"),
        (
            [{"ExcludeManagementEventSources": ["s3.amazonaws.com"]}],
            "Value s3.amazonaws.com for ExcludeManagementEventSources is invalid",
        ),
        (
            [{"DataResources": [{"Type": "AWS::DynamoDB::Table", "Values": ["arn:aws:dynamodb"]}]}],
            "Value AWS::DynamoDB::Table for DataResources.Type is invalid",
        ),
        (
            [{"DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:lambda"]}]}],
            "Value arn:aws:lambda for DataResources.Values is invalid",
        ),
        (
            [{"DataResources": [{"Type": "AWS::S3::Object", "Values": ["s3://mybucket/prefix"]}]}],
            "Value s3://mybucket/prefix for DataResources.Values is invalid",
        ),
        (
            [{"DataResources": [{"Type": "AWS::Lambda::Function", "Values": ["arn:aws:s3:::b/"]}]}],
            "Value arn:aws:s3:::b/ for DataResources.Values is invalid",
        ),
        (
            [
                {
                    "DataResources": [
                        {
                            "Type": "AWS::Lambda::Function",
                            "Values": ["arn:aws:lambda:us-west-2:999999999999:layer:x"],
                        }
                    ]
                }
            ],
            "arn:aws:lambda:us-west-2:999999999999:layer:x for DataResources.Values is invalid",
        ),
        ([{"DataResources": [{"Type": "AWS::S3::Object", "Values": []}]}], "must not be empty"),
        ([{"IncludeManagementEvents": "yes"}], "IncludeManagementEvents"),
        ([{"ReadWriteTyp": "All"}], "Unknown member 'ReadWriteTyp'"),
    ],
)
def test_invalid_basic_selectors(raw: Any, fragment: str) -> None:
    _invalid(raw, fragment)


def test_read_write_type_none_is_accepted() -> None:
    """Lines 4577-4578: the console offers None (log neither)."""
    assert parse_event_selectors([{"ReadWriteType": "None"}])[0].read_write_type == "None"


def test_basic_and_advanced_together_refused() -> None:
    with pytest.raises(TrailError) as err:
        parse_selectors(
            [{}], [{"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]}]
        )
    assert err.value.code == "InvalidEventSelectorsException"
    assert "not both" in err.value.message


def test_advanced_selector_parses() -> None:
    raw = [
        {
            "Name": "Log PutObject on one bucket",
            "FieldSelectors": [
                {"Field": "eventCategory", "Equals": ["Data"]},
                {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
                {"Field": "eventName", "Equals": ["PutObject"]},
                {"Field": "resources.ARN", "StartsWith": ["arn:aws:s3:::bucket-1/"]},
            ],
        }
    ]
    (a,) = parse_advanced_event_selectors(raw)
    assert a == AdvancedEventSelector(
        (
            FieldSelector("eventCategory", equals=("Data",)),
            FieldSelector("resources.type", equals=("AWS::S3::Object",)),
            FieldSelector("eventName", equals=("PutObject",)),
            FieldSelector("resources.ARN", starts_with=("arn:aws:s3:::bucket-1/",)),
        ),
        "Log PutObject on one bucket",
    )
    assert a.to_api() == raw[0]


def test_fields_cloudtrail_accepts_for_trails_today_parse() -> None:
    data = [
        {"Field": "eventCategory", "Equals": ["Data"]},
        {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
        {"Field": "eventType", "Equals": ["AwsApiCall"]},
        {"Field": "userIdentity.arn", "StartsWith": ["arn:aws:iam::111122223333:role/"]},
        {"Field": "sessionCredentialFromConsole", "NotEquals": ["true"]},
        {"Field": "readOnly", "Equals": ["false"]},
    ]
    network = [
        {"Field": "eventCategory", "Equals": ["NetworkActivity"]},
        {"Field": "eventSource", "Equals": ["kms.amazonaws.com"]},
        {"Field": "errorCode", "Equals": ["VpceAccessDenied"]},
        {"Field": "vpcEndpointId", "NotEquals": ["vpce-0123456789abcdef0"]},
        {"Field": "userIdentity.arn", "NotStartsWith": ["arn:aws:sts::"]},
    ]
    parsed = parse_advanced_event_selectors([{"FieldSelectors": data}, {"FieldSelectors": network}])
    assert [s.category for s in parsed] == ["Data", "NetworkActivity"]
    assert [s.to_api()["FieldSelectors"] for s in parsed] == [data, network]


def test_500_values_per_trail_across_its_advanced_selectors() -> None:
    def selector(n: int) -> dict[str, Any]:
        arns = [f"arn:aws:iam::111122223333:user/u{i}" for i in range(n)]
        return {
            "FieldSelectors": [
                {"Field": "eventCategory", "Equals": ["Data"]},
                {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
                {"Field": "userIdentity.arn", "Equals": arns},
            ]
        }

    # each selector counts its eventCategory and resources.type values too: 2 + n
    parse_advanced_event_selectors([selector(248), selector(248)])
    with pytest.raises(TrailError) as err:
        parse_advanced_event_selectors([selector(248), selector(249)])
    assert "at most 500 values" in err.value.message


def _fields(*fields: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"FieldSelectors": list(fields)}]


_DATA = {"Field": "eventCategory", "Equals": ["Data"]}
_S3 = {"Field": "resources.type", "Equals": ["AWS::S3::Object"]}


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (
            _fields({"Field": "userIdentity.userName", "Equals": ["x"]}),
            "Value userIdentity.userName for Field",
        ),
        (
            _fields(
                {"Field": "eventCategory", "Equals": ["Management"]},
                {"Field": "userIdentity.arn", "Equals": ["arn:aws:iam::111122223333:user/a"]},
            ),
            "Field userIdentity.arn is invalid for eventCategory Management on a trail",
        ),
        (
            _fields(_DATA, _S3, {"Field": "errorCode", "Equals": ["VpceAccessDenied"]}),
            "Field errorCode is invalid for eventCategory Data",
        ),
        (
            _fields(_DATA, _S3, {"Field": "sessionCredentialFromConsole", "Equals": ["yes"]}),
            "Value yes for sessionCredentialFromConsole",
        ),
        (
            _fields(_DATA, _S3, {"Field": "readOnly", "NotEquals": ["true"]}),
            "Operator NotEquals is invalid for field readOnly",
        ),
        (
            _fields(_DATA, {"Field": "resources.type", "StartsWith": ["AWS::S3"]}),
            "Operator StartsWith is invalid for field resources.type",
        ),
        (
            _fields(
                {"Field": "eventCategory", "Equals": ["NetworkActivity"]},
                {"Field": "vpcEndpointId", "Equals": ["vpce-1"]},
            ),
            "need an eventSource field selector",
        ),
        (
            _fields(
                {"Field": "eventCategory", "Equals": ["NetworkActivity"]},
                {"Field": "eventSource", "Equals": ["s3.amazonaws.com"]},
                {"Field": "errorCode", "Equals": ["AccessDenied"]},
            ),
            "Value AccessDenied for errorCode",
        ),
        (
            _fields(
                {"Field": "eventCategory", "Equals": ["NetworkActivity"]},
                {"Field": "eventSource", "StartsWith": ["kms."]},
            ),
            "one eventSource with the Equals operator",
        ),
        (
            _fields(
                {"Field": "eventCategory", "Equals": ["NetworkActivity"]},
                {"Field": "eventSource", "Equals": ["kms.amazonaws.com", "s3.amazonaws.com"]},
            ),
            "one eventSource with the Equals operator",
        ),
        (
            _fields(
                {"Field": "eventCategory", "Equals": ["NetworkActivity"]},
                {"Field": "eventSource", "Equals": ["kms.amazonaws.com"]},
                {"Field": "readOnly", "Equals": ["true"]},
            ),
            "Field readOnly is invalid for eventCategory NetworkActivity",
        ),
        (
            _fields({"Field": "eventCategory", "Equals": ["Insight"]}),
            "Value Insight for eventCategory",
        ),
        (
            _fields({"Field": "eventCategory", "StartsWith": ["Man"]}),
            "Operator StartsWith is invalid",
        ),
        (_fields(_DATA, {"Field": "readOnly", "Equals": ["yes"]}, _S3), "Value yes for readOnly"),
        (
            _fields(_DATA, {"Field": "resources.type", "Equals": ["AWS::EC2::Instance"]}),
            "Value AWS::EC2::Instance for resources.type",
        ),
        (
            _fields(_DATA, _S3, {"Field": "eventName", "Contains": ["Put"]}),
            "Unknown member 'Contains'",
        ),
        (_fields(_DATA, _S3, {"Field": "eventName"}), "has no operator"),
        (_fields(_DATA, _S3, {"Field": "eventName", "Equals": []}), "must not be empty"),
        (_fields({"Field": "eventName", "Equals": ["PutObject"]}), "needs an eventCategory"),
        (_fields(_DATA), "need a resources.type"),
        (
            _fields({"Field": "eventCategory", "Equals": ["Management"]}, _S3),
            "Management event selectors cannot filter on resources",
        ),
        (_fields(_DATA, _S3, _S3), "appears more than once"),
        ([], "must not be empty"),
    ],
)
def test_invalid_advanced_selectors(raw: Any, fragment: str) -> None:
    with pytest.raises(TrailError) as err:
        parse_advanced_event_selectors(raw)
    assert err.value.code == "InvalidEventSelectorsException"
    assert fragment in err.value.message
