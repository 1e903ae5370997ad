"""Selector semantics case by case, checked on both matchers."""

from __future__ import annotations

from typing import Any

import pytest

from recorder.selectors import (
    Event,
    RecordError,
    Resource,
    SelectorIndex,
    event_from_record,
    trail_matches,
)
from recorder.trails import Trail

ARN = "arn:aws:cloudtrail:us-east-2:123456789012:trail/trail-t"


def _trail(**selectors: Any) -> Trail:
    return Trail.from_api({"Name": "trail-t", "TrailARN": ARN, "S3BucketName": "logs", **selectors})


def _both(trail: Trail, event: Event) -> bool:
    reference = trail_matches(trail, event)
    assert (SelectorIndex([trail]).match(event) == {0}) is reference
    return reference


def _s3(arn: str, read_only: bool = False) -> Event:
    return Event(
        "s3.amazonaws.com",
        "PutObject",
        "us-east-2",
        "123456789012",
        "Data",
        read_only,
        (Resource("AWS::S3::Object", arn),),
    )


def _basic_s3(*values: str, rw: str = "All") -> Trail:
    return _trail(
        EventSelectors=[
            {
                "ReadWriteType": rw,
                "IncludeManagementEvents": False,
                "DataResources": [{"Type": "AWS::S3::Object", "Values": list(values)}],
            }
        ]
    )


@pytest.mark.parametrize(
    ("value", "arn", "selected"),
    [
        ("arn:aws:s3", "arn:aws:s3:::any/key", True),
        ("arn:aws:s3:::", "arn:aws:s3:::any/key", True),
        ("arn:aws:s3:::bucket-1", "arn:aws:s3:::bucket-1/k", True),
        ("arn:aws:s3:::bucket-1", "arn:aws:s3:::bucket-10/k", False),  # a bucket, not a prefix
        ("arn:aws:s3:::bucket-1/", "arn:aws:s3:::bucket-1/k", True),
        ("arn:aws:s3:::bucket-3/my-images", "arn:aws:s3:::bucket-3/my-images/example.jpg", True),
        (
            "arn:aws:s3:::bucket-3/my-images",
            "arn:aws:s3:::bucket-3/my-imagesX",
            True,
        ),  # S3 prefixes are strings
        ("arn:aws:s3:::bucket-3/my-images", "arn:aws:s3:::bucket-3/my-videos/example.avi", False),
    ],
)
def test_s3_data_resource_values(value: str, arn: str, selected: bool) -> None:
    assert _both(_basic_s3(value), _s3(arn)) is selected


def test_read_write_type_applies_to_data_events() -> None:
    """Line 4804: a WriteOnly selector does not log GetObject, a Read."""
    assert (
        _both(
            _basic_s3("arn:aws:s3:::bucket-3/", rw="WriteOnly"),
            _s3("arn:aws:s3:::bucket-3/k", True),
        )
        is False
    )
    assert (
        _both(_basic_s3("arn:aws:s3:::bucket-3/", rw="None"), _s3("arn:aws:s3:::bucket-3/k"))
        is False
    )


FN = "arn:aws:lambda:us-west-2:999999999999:function:hello-world-python-function"


@pytest.mark.parametrize(
    ("value", "arn", "selected"),
    [
        ("arn:aws:lambda", FN, True),
        (FN, FN, True),
        (FN, FN + ":1", True),  # a version of the function
        (FN, FN + "-2", False),  # another function, though its name has this prefix
        (FN + ":1", FN, False),
    ],
)
def test_lambda_data_resource_values(value: str, arn: str, selected: bool) -> None:
    trail = _trail(
        EventSelectors=[{"DataResources": [{"Type": "AWS::Lambda::Function", "Values": [value]}]}]
    )
    event = Event(
        "lambda.amazonaws.com",
        "Invoke",
        "us-west-2",
        "123456789012",
        "Data",
        False,
        (Resource("AWS::Lambda::Function", arn),),
    )
    assert _both(trail, event) is selected


def _advanced(*fields: dict[str, Any]) -> Trail:
    return _trail(AdvancedEventSelectors=[{"FieldSelectors": list(fields)}])


_DATA = {"Field": "eventCategory", "Equals": ["Data"]}
_OBJ = {"Field": "resources.type", "Equals": ["AWS::S3::Object"]}


@pytest.mark.parametrize(
    ("field", "selected"),
    [
        ({"Field": "eventName", "Equals": ["PutObject", "GetObject"]}, True),
        ({"Field": "eventName", "NotEquals": ["PutObject"]}, False),
        ({"Field": "eventName", "StartsWith": ["Put"]}, True),
        ({"Field": "eventName", "NotStartsWith": ["Get", "Put"]}, False),
        ({"Field": "eventName", "EndsWith": ["Object"]}, True),
        ({"Field": "eventName", "NotEndsWith": ["Bucket"]}, True),
        ({"Field": "eventName", "StartsWith": ["Put"], "NotEndsWith": ["Object"]}, False),  # AND-ed
        ({"Field": "eventSource", "Equals": ["s3.amazonaws.com"]}, True),
        ({"Field": "readOnly", "Equals": ["true"]}, False),
        ({"Field": "resources.ARN", "StartsWith": ["arn:aws:s3:::b/img/"]}, True),
        ({"Field": "resources.ARN", "Equals": ["arn:aws:s3:::b/img/a.jpg"]}, True),
        ({"Field": "resources.ARN", "EndsWith": [".png"]}, False),
        ({"Field": "resources.ARN", "NotStartsWith": ["arn:aws:s3:::b/"]}, False),
    ],
)
def test_advanced_operators(field: dict[str, Any], selected: bool) -> None:
    assert _both(_advanced(_DATA, _OBJ, field), _s3("arn:aws:s3:::b/img/a.jpg")) is selected


_ROLE = "arn:aws:sts::123456789012:assumed-role/deploy/ci"


def _s3_by(**fields: str) -> Event:
    """A PutObject by the deploy role, from a console session unless told otherwise."""
    values = {"event_type": "AwsApiCall", "user_arn": _ROLE, "from_console": "true", **fields}
    return Event(
        "s3.amazonaws.com",
        "PutObject",
        "us-east-2",
        "123456789012",
        "Data",
        False,
        (Resource("AWS::S3::Object", "arn:aws:s3:::b/k"),),
        **values,
    )


@pytest.mark.parametrize(
    ("field", "event", "selected"),
    [
        ({"Field": "userIdentity.arn", "Equals": [_ROLE]}, _s3_by(), True),
        ({"Field": "userIdentity.arn", "StartsWith": ["arn:aws:iam::"]}, _s3_by(), False),
        ({"Field": "userIdentity.arn", "NotStartsWith": ["arn:aws:iam::"]}, _s3_by(), True),
        ({"Field": "userIdentity.arn", "NotEquals": [_ROLE]}, _s3_by(user_arn=""), True),
        ({"Field": "userIdentity.arn", "EndsWith": ["/ci"]}, _s3_by(user_arn=""), False),
        ({"Field": "eventType", "Equals": ["AwsApiCall"]}, _s3_by(), True),
        ({"Field": "eventType", "NotEquals": ["AwsApiCall"]}, _s3_by(), False),
        ({"Field": "eventType", "Equals": ["AwsServiceEvent"]}, _s3_by(), False),
        ({"Field": "sessionCredentialFromConsole", "Equals": ["true"]}, _s3_by(), True),
        ({"Field": "sessionCredentialFromConsole", "NotEquals": ["true"]}, _s3_by(), False),
        # absent: CloudTrail writes the member only when true
        (
            {"Field": "sessionCredentialFromConsole", "Equals": ["false"]},
            _s3_by(from_console="false"),
            True,
        ),
    ],
)
def test_advanced_fields_of_today(field: dict[str, Any], event: Event, selected: bool) -> None:
    assert _both(_advanced(_DATA, _OBJ, field), event) is selected


def test_network_activity_selectors_test_the_vpc_endpoint_and_error_code() -> None:
    trail = _advanced(
        {"Field": "eventCategory", "Equals": ["NetworkActivity"]},
        {"Field": "eventSource", "Equals": ["kms.amazonaws.com"]},
        {"Field": "errorCode", "Equals": ["VpceAccessDenied"]},
        {"Field": "vpcEndpointId", "StartsWith": ["vpce-0a"]},
    )

    def network(**fields: str) -> Event:
        return Event(
            "kms.amazonaws.com",
            "Decrypt",
            "us-east-2",
            "123456789012",
            "NetworkActivity",
            True,
            **fields,
        )

    assert _both(trail, network(error_code="VpceAccessDenied", vpc_endpoint_id="vpce-0a1")) is True
    assert _both(trail, network(error_code="VpceAccessDenied", vpc_endpoint_id="vpce-0b1")) is False
    assert _both(trail, network(vpc_endpoint_id="vpce-0a1")) is False
    management = _trail(EventSelectors=[{"ReadWriteType": "All"}])
    assert _both(management, network(error_code="VpceAccessDenied")) is False


def test_record_members_the_new_fields_read() -> None:
    e = event_from_record(
        {
            "eventSource": "s3.amazonaws.com",
            "eventName": "PutObject",
            "awsRegion": "us-east-2",
            "recipientAccountId": "123456789012",
            "userIdentity": {"type": "AssumedRole", "arn": _ROLE},
            "eventType": "AwsApiCall",
            "sessionCredentialFromConsole": "true",
            "vpcEndpointId": "vpce-0a1",
        }
    )
    assert (e.user_arn, e.event_type, e.from_console, e.vpc_endpoint_id, e.error_code) == (
        _ROLE,
        "AwsApiCall",
        "true",
        "vpce-0a1",
        "",
    )
    bare = event_from_record(
        {
            "eventSource": "s3.amazonaws.com",
            "eventName": "PutObject",
            "awsRegion": "us-east-2",
            "recipientAccountId": "123456789012",
        }
    )
    assert (bare.user_arn, bare.event_type, bare.from_console) == ("", "", "false")


def test_advanced_selectors_are_or_ed() -> None:
    trail = _trail(
        AdvancedEventSelectors=[
            {"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]},
            {"FieldSelectors": [_DATA, _OBJ, {"Field": "eventName", "Equals": ["PutObject"]}]},
        ]
    )
    assert _both(trail, _s3("arn:aws:s3:::b/k")) is True


def test_stopped_trail_is_not_indexed() -> None:
    trail = Trail.from_api(
        {"Name": "trail-t", "TrailARN": ARN, "S3BucketName": "logs", "IsLogging": False}
    )
    event = Event(
        "ec2.amazonaws.com", "RunInstances", "us-east-2", "123456789012", "Management", False
    )
    assert SelectorIndex([trail]).match(event) == frozenset()


def test_record_fields_and_classification() -> None:
    """A record without readOnly/eventCategory is classified like the producer does."""
    e = event_from_record(
        {
            "eventSource": "s3.amazonaws.com",
            "eventName": "GetObject",
            "awsRegion": "us-east-2",
            "recipientAccountId": "123456789012",
        }
    )
    assert (e.category, e.read_only) == ("Data", True)
    e = event_from_record(
        {
            "eventSource": "ec2.amazonaws.com",
            "eventName": "GetConsoleOutput",
            "awsRegion": "us-east-2",
            "recipientAccountId": "123456789012",
            "readOnly": False,
            "managementEvent": True,
        }
    )
    assert (e.category, e.read_only) == ("Management", False)
    with pytest.raises(RecordError, match="awsRegion"):
        event_from_record(
            {
                "eventSource": "s3.amazonaws.com",
                "eventName": "GetObject",
                "recipientAccountId": "123456789012",
            }
        )


def test_events_from_outside_aws_reach_only_trails_that_select_them() -> None:
    """PutAuditEvents' records (eventCategory ActivityAuditLog): a trail opts in with an
    advanced selector of that category, by eventSource or eventName if it likes; no
    management or data selector takes them."""
    audit = event_from_record(
        {
            "eventSource": "orders.example.com",
            "eventName": "PlaceOrder",
            "awsRegion": "us-east-2",
            "recipientAccountId": "123456789012",
            "eventCategory": "ActivityAuditLog",
        }
    )
    assert audit.category == "ActivityAuditLog"
    every = _advanced({"Field": "eventCategory", "Equals": ["ActivityAuditLog"]})
    orders = _advanced(
        {"Field": "eventCategory", "Equals": ["ActivityAuditLog"]},
        {"Field": "eventSource", "Equals": ["orders.example.com"]},
    )
    billing = _advanced(
        {"Field": "eventCategory", "Equals": ["ActivityAuditLog"]},
        {"Field": "eventName", "StartsWith": ["Refund"]},
    )
    assert _both(every, audit) is True
    assert _both(orders, audit) is True
    assert _both(billing, audit) is False
    management = _trail(EventSelectors=[{"ReadWriteType": "All"}])
    assert _both(management, audit) is False
    assert _both(_basic_s3("arn:aws:s3"), audit) is False
    with pytest.raises(Exception, match="readOnly is invalid for eventCategory ActivityAuditLog"):
        _advanced(
            {"Field": "eventCategory", "Equals": ["ActivityAuditLog"]},
            {"Field": "readOnly", "Equals": ["true"]},
        )
