"""Each rule of ``validate_record``, with the exact message the dead-letter topic gets."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from recorder.events import InvalidEventError, validate_record
from tests.unit.events.guide import record_at

START_LOGGING = 11315  # 1.05 API call, sessionContext with sessionIssuer
ROTATE = 12021  # 1.05 service event with resources
INSIGHT = 11362  # 1.07 Insights event: no userIdentity, eventSource or eventName


def _error(record: Any, **kwargs: Any) -> InvalidEventError:
    with pytest.raises(InvalidEventError) as caught:
        validate_record(record, **kwargs)
    return caught.value


def _without(record: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != name}


@pytest.mark.parametrize(
    ("line", "name", "message"),
    [
        (START_LOGGING, "eventVersion", "eventVersion: required in every record, but absent"),
        (START_LOGGING, "eventTime", "eventTime: required in every record, but absent"),
        (INSIGHT, "awsRegion", "awsRegion: required in every record, but absent"),
        (START_LOGGING, "eventID", "eventID: required since eventVersion 1.01, but absent"),
        (START_LOGGING, "eventType", "eventType: required since eventVersion 1.02, but absent"),
        (
            START_LOGGING,
            "userIdentity",
            "userIdentity: required in API, console and service events, but absent",
        ),
        (
            ROTATE,
            "eventSource",
            "eventSource: required in API, console and service events, but absent",
        ),
        (ROTATE, "eventName", "eventName: required in API, console and service events, but absent"),
        (
            ROTATE,
            "sourceIPAddress",
            "sourceIPAddress: required in API, console and service events, but absent",
        ),
        (INSIGHT, "insightDetails", "insightDetails: required in Insights events, but absent"),
        (INSIGHT, "sharedEventID", "sharedEventID: required in Insights events, but absent"),
    ],
)
def test_required_member_absent(line: int, name: str, message: str) -> None:
    error = _error(_without(record_at(line), name))
    assert str(error) == message
    assert error.field == name


def test_required_member_null_is_named_as_null() -> None:
    record = record_at(START_LOGGING) | {"eventID": None}
    assert str(_error(record)) == "eventID: required since eventVersion 1.01, but null"


def test_version_1_0_records_need_neither_event_id_nor_event_type() -> None:
    record = record_at(629)  # the guide's EC2 StartInstances, 1.0
    assert "eventID" not in record
    assert "eventType" not in record
    validate_record(record)


def test_optional_members_may_be_absent_or_null() -> None:
    record = record_at(START_LOGGING)
    for name in ("userAgent", "requestParameters", "responseElements", "requestID", "readOnly"):
        validate_record(_without(record, name))
        validate_record(record | {name: None})
    validate_record(_without(record, "recipientAccountId"))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"eventVersion": 1.05}, "eventVersion: expected a version like '1.05', got 1.05"),
        ({"eventVersion": "v1"}, "eventVersion: expected a version like '1.05', got 'v1'"),
        (
            {"eventTime": "2019-06-19 00:18:31"},
            "eventTime: expected UTC YYYY-MM-DDTHH:MM:SSZ, got '2019-06-19 00:18:31'",
        ),
        (
            {"eventTime": "2019-06-19T00:18:31+00:00"},
            "eventTime: expected UTC YYYY-MM-DDTHH:MM:SSZ, got '2019-06-19T00:18:31+00:00'",
        ),
        (
            {"eventTime": "2019-06-19T00:18:31.123Z"},
            "eventTime: expected UTC YYYY-MM-DDTHH:MM:SSZ, got '2019-06-19T00:18:31.123Z'",
        ),
        (
            {"eventTime": "2019-13-19T00:18:31Z"},
            "eventTime: expected UTC YYYY-MM-DDTHH:MM:SSZ, got '2019-13-19T00:18:31Z'",
        ),
        ({"eventTime": 1560903511}, "eventTime: expected a string, got 1560903511"),
        (
            {"awsRegion": "US-EAST-2"},
            "awsRegion: expected a region like 'us-east-2', got 'US-EAST-2'",
        ),
        ({"awsRegion": "global"}, "awsRegion: expected a region like 'us-east-2', got 'global'"),
        ({"eventSource": ""}, "eventSource: must not be empty"),
        ({"eventName": ""}, "eventName: must not be empty"),
        ({"eventID": ""}, "eventID: must not be empty"),
        ({"readOnly": "false"}, "readOnly: expected true or false, got 'false'"),
        ({"managementEvent": 1}, "managementEvent: expected true or false, got 1"),
        ({"errorCode": 404}, "errorCode: expected a string, got 404"),
        (
            {"requestParameters": ["name"]},
            "requestParameters: expected a JSON object or null, got ['name']",
        ),
        ({"responseElements": "ok"}, "responseElements: expected a JSON object or null, got 'ok'"),
        ({"userIdentity": "Mary_Major"}, "userIdentity: expected an object, got 'Mary_Major'"),
        (
            {"recipientAccountId": "12345678901"},
            "recipientAccountId: expected a 12-digit account ID, got '12345678901'",
        ),
        (
            {"recipientAccountId": "1234567890123"},
            "recipientAccountId: expected a 12-digit account ID, got '1234567890123'",
        ),
        (
            {"recipientAccountId": "١٢٣٤٥٦٧٨٩٠١٢"},
            "recipientAccountId: expected a 12-digit account ID, got '١٢٣٤٥٦٧٨٩٠١٢'",
        ),
        (
            {"resources": {"ARN": "arn:aws:s3:::b"}},
            "resources: expected a list of objects, got {'ARN': 'arn:aws:s3:::b'}",
        ),
    ],
)
def test_bad_top_level_value(change: dict[str, Any], message: str) -> None:
    assert str(_error(record_at(START_LOGGING) | change)) == message


def test_nested_member_is_named_by_its_path() -> None:
    record = record_at(START_LOGGING)
    record["userIdentity"]["sessionContext"]["attributes"]["mfaAuthenticated"] = False
    error = _error(record)
    assert error.field == "userIdentity.sessionContext.attributes.mfaAuthenticated"
    assert str(error) == (
        "userIdentity.sessionContext.attributes.mfaAuthenticated: expected a string, got False"
    )


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (
            ("userIdentity", "accountId"),
            "12345",
            "userIdentity.accountId: expected a 12-digit account ID, got '12345'",
        ),
        (
            ("userIdentity", "sessionContext", "sessionIssuer", "accountId"),
            "ABCDEFGHIJKL",
            "userIdentity.sessionContext.sessionIssuer.accountId: expected a 12-digit account ID, got 'ABCDEFGHIJKL'",
        ),
        (
            ("userIdentity", "sessionContext", "webIdFederationData"),
            "accounts.google.com",
            "userIdentity.sessionContext.webIdFederationData: expected a JSON object or null, got 'accounts.google.com'",
        ),
    ],
)
def test_bad_user_identity_value(path: tuple[str, ...], value: Any, message: str) -> None:
    record = record_at(START_LOGGING)
    target = record
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert str(_error(record)) == message


def test_resources_elements_are_checked_one_by_one() -> None:
    record = record_at(ROTATE)
    record["resources"].append("arn:aws:kms:us-east-2:123456789012:key/other")
    assert str(_error(record)) == (
        "resources[1]: expected an object, got 'arn:aws:kms:us-east-2:123456789012:key/other'"
    )
    record = record_at(ROTATE)
    record["resources"][0]["accountId"] = "123"
    assert (
        str(_error(record)) == "resources[0].accountId: expected a 12-digit account ID, got '123'"
    )
    record = record_at(ROTATE)
    record["resources"][0]["type"] = ["AWS::KMS::Key"]
    assert str(_error(record)) == "resources[0].type: expected a string, got ['AWS::KMS::Key']"


def test_unnamed_members_are_allowed() -> None:
    record = record_at(ROTATE) | {"tlsDetails": {"tlsVersion": "TLSv1.2"}}
    record["resources"][0]["ARNPrefix"] = "arn:aws:kms:us-east-2:123456789012:key/"
    validate_record(record)


def test_long_values_are_cut_short_in_messages() -> None:
    message = str(_error(record_at(START_LOGGING) | {"errorCode": 7 * 10**80}))
    assert message == "errorCode: expected a string, got " + "7" + "0" * 56 + "..."


def test_oversize_record() -> None:
    record = record_at(START_LOGGING)
    record["requestParameters"] = {"policy": "x" * 300_000}
    error = _error(record)
    size = len(orjson.dumps(record))
    assert str(error) == f"record: {size} bytes as JSON, over the 262144-byte limit"
    assert error.field == "record"


def test_size_limit_is_a_parameter() -> None:
    record = record_at(START_LOGGING)
    validate_record(record, max_bytes=861)
    assert (
        str(_error(record, max_bytes=860)) == "record: 861 bytes as JSON, over the 860-byte limit"
    )


def test_not_json_inside_a_free_form_member() -> None:
    record = record_at(START_LOGGING) | {"additionalEventData": {"at": object()}}
    assert str(_error(record)).startswith(
        "record: not JSON-serialisable: Type is not JSON serializable"
    )


def test_not_an_object() -> None:
    assert str(_error(["eventVersion"])) == "record: expected a JSON object, got list"
