"""CloudTrail Data's ``PutAuditEvents``: each audit event of a call as a CloudTrail record.

Pure: the call's events and who made it in, per event a record or the reason it is
refused out. What is AWS's (the CloudTrail Data API reference, PutAuditEvents and
ResultErrorEntry; the CloudTrail Lake integrations event schema):

* at most 100 events and 1 MB a call; two events of one call with the same ``id``
  are ``DuplicatedAuditEventId`` for the whole call;
* each event on its own: ``eventDataChecksum`` (base64 SHA-256 of the ``eventData``
  text) must match (``InvalidChecksum``); ``eventData`` is a JSON object
  (``InvalidData``) with the schema's required fields (``FieldNotFound``) within their
  lengths (``FieldTooLong``); its ``recipientAccountId`` "must be the same as the AWS
  account ID that owns the channel" (``InvalidRecipient``). A refused event is in the
  answer's ``failed`` list and the others still go in (``successful``).

The record is the account's, whatever ``eventData`` says: ``recipientAccountId`` is the
channel owner's (the caller's), ``awsRegion`` the call's, ``eventID`` recorder's own;
``userIdentity`` keeps only the schema's ``type``, ``principalId`` and ``details``, so no
member of the event can name another account. The event's members that CloudTrail
records also have take their CloudTrail names at the top level (``UID`` is
``requestID``), so a log-file reader finds them where it finds them in any record;
``eventCategory`` ``ActivityAuditLog`` and ``eventType`` ``ActivityLog`` mark them, and
``metadata`` (``channelARN``, ``ingestionTime``, and the source's own ``version`` as
``eventDataVersion``) says where they came in.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from recorder.api.protocol import ApiError
from recorder.aws.times import format_seconds
from recorder.producer.record import EVENT_VERSION

MAX_EVENTS = 100
#: "You can add up to 100 of these events (or up to 1 MB) per PutAuditEvents request."
MAX_BODY_BYTES = 1024 * 1024
ACTIVITY_AUDIT_LOG = "ActivityAuditLog"
ACTIVITY_LOG = "ActivityLog"

#: eventData's string members and their length limits (the integrations event schema);
#: required ones first.
_REQUIRED_STRINGS: Mapping[str, int] = {
    "version": 256,
    "eventSource": 1024,
    "eventName": 1024,
    "eventTime": 64,
    "UID": 1024,
    "recipientAccountId": 12,
}
_OPTIONAL_STRINGS: Mapping[str, int] = {
    "userAgent": 1024,
    "errorCode": 256,
    "errorMessage": 256,
    "sourceIPAddress": 64,
}
#: Free-form members and their size limits as JSON ("content exceeding the limit is
#: rejected").
_OBJECTS: Mapping[str, int] = {
    "requestParameters": 100 * 1024,
    "responseElements": 100 * 1024,
    "additionalEventData": 28 * 1024,
}


@dataclass(frozen=True, slots=True)
class Accepted:
    id: str
    event_id: str
    record: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Failed:
    id: str
    code: str
    message: str


def check_call(events: Sequence[Mapping[str, Any]], body_bytes: int) -> None:
    """The whole call's limits: ``ValidationException`` (AWS's answer to a member
    outside its constraints) or ``DuplicatedAuditEventId``."""
    if len(events) > MAX_EVENTS:
        raise ApiError(
            "ValidationException",
            f"1 validation error detected: Value at 'auditEvents' failed to satisfy "
            f"constraint: Member must have length less than or equal to {MAX_EVENTS}",
        )
    if body_bytes > MAX_BODY_BYTES:
        raise ApiError(
            "ValidationException",
            f"Request body of {body_bytes} bytes is larger than the {MAX_BODY_BYTES} bytes "
            "PutAuditEvents accepts",
            status=413,
        )
    seen: set[str] = set()
    for event in events:
        if event["id"] in seen:
            raise ApiError(
                "DuplicatedAuditEventId",
                f"Two or more entries in the request have the same event ID: {event['id']}",
            )
        seen.add(event["id"])


def checksum(event_data: str) -> str:
    """What ``printf %s "$eventData" | openssl dgst -binary -sha256 | base64`` prints."""
    return base64.b64encode(hashlib.sha256(event_data.encode()).digest()).decode()


def to_record(
    event: Mapping[str, Any],
    *,
    account_id: str,
    region: str,
    channel_arn: str,
    event_id: str,
    now: dt.datetime,
) -> Accepted | Failed:
    """One ``AuditEvent`` (``id``, ``eventData``, ``eventDataChecksum``) as the record
    of ``account_id`` (the channel's owner, who made the call)."""
    source_id = str(event["id"])
    text = event["eventData"]
    given = event.get("eventDataChecksum")
    if given is not None and not hmac.compare_digest(str(given), checksum(text)):
        return Failed(source_id, "InvalidChecksum", "eventDataChecksum does not match eventData")
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        return Failed(source_id, "InvalidData", f"eventData is not JSON: {exc}")
    if not isinstance(data, dict):
        return Failed(source_id, "InvalidData", "eventData is not a JSON object")
    problem = _problem(data, account_id)
    if problem is not None:
        return Failed(source_id, *problem)
    when = _event_time(data["eventTime"])
    if when is None:
        return Failed(
            source_id,
            "InvalidData",
            f"eventTime {data['eventTime'][:64]!r} is not a UTC time like 2023-01-31T12:00:00Z",
        )
    identity = data["userIdentity"]
    record: dict[str, Any] = {
        "eventVersion": EVENT_VERSION,
        "userIdentity": {
            "type": identity["type"],
            "principalId": identity["principalId"],
            **({"details": identity["details"]} if identity.get("details") is not None else {}),
        },
        "eventTime": format_seconds(when),
        "eventSource": data["eventSource"],
        "eventName": data["eventName"],
        "awsRegion": region,
    }
    for name in ("sourceIPAddress", "userAgent", "errorCode", "errorMessage"):
        if data.get(name) is not None:
            record[name] = data[name]
    for name in _OBJECTS:
        if data.get(name) is not None:
            record[name] = data[name]
    record["requestID"] = data["UID"]
    record["eventID"] = event_id
    record["eventType"] = ACTIVITY_LOG
    record["recipientAccountId"] = account_id
    record["eventCategory"] = ACTIVITY_AUDIT_LOG
    record["metadata"] = {
        "ingestionTime": format_seconds(now),
        "channelARN": channel_arn,
        "eventDataVersion": data["version"],
    }
    return Accepted(source_id, event_id, record)


def _problem(data: Mapping[str, Any], account_id: str) -> tuple[str, str] | None:
    """(errorCode, errorMessage) of the first thing wrong with ``eventData``."""
    identity = data.get("userIdentity")
    if identity is None:
        return "FieldNotFound", "eventData has no userIdentity"
    if not isinstance(identity, dict):
        return "InvalidData", "userIdentity is not a JSON object"
    for name, limit in (("type", 128), ("principalId", 1024)):
        found = _string(identity, name, limit, f"userIdentity.{name}", required=True)
        if found is not None:
            return found
    details = identity.get("details")
    if details is not None and not isinstance(details, dict):
        return "InvalidData", "userIdentity.details is not a JSON object"
    for name, limit in _REQUIRED_STRINGS.items():
        found = _string(data, name, limit, name, required=True)
        if found is not None:
            return found
    for name, limit in _OPTIONAL_STRINGS.items():
        found = _string(data, name, limit, name, required=False)
        if found is not None:
            return found
    for name, limit in _OBJECTS.items():
        value = data.get(name)
        if value is None:
            continue
        if not isinstance(value, dict):
            return "InvalidData", f"{name} is not a JSON object"
        if len(orjson.dumps(value)) > limit:
            return "FieldTooLong", f"{name} is larger than {limit // 1024} kB"
    if data["recipientAccountId"] != account_id:
        return (
            "InvalidRecipient",
            f"recipientAccountId {data['recipientAccountId']} is not the account that owns "
            f"the channel ({account_id})",
        )
    return None


def _string(
    obj: Mapping[str, Any], name: str, limit: int, where: str, *, required: bool
) -> tuple[str, str] | None:
    value = obj.get(name)
    if value is None or value == "":
        return ("FieldNotFound", f"eventData has no {where}") if required else None
    if not isinstance(value, str):
        return "InvalidData", f"{where} is not a string"
    if len(value) > limit:
        return "FieldTooLong", f"{where} is longer than {limit} characters"
    return None


def _event_time(text: str) -> dt.datetime | None:
    """``yyyy-MM-ddTHH:mm:ss`` in UTC (a ``Z``, an offset or fractions are allowed)."""
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).replace(microsecond=0)


def answer(results: Sequence[Accepted | Failed]) -> dict[str, Any]:
    """The ``PutAuditEventsResponse``: per event, in the call's order."""
    return {
        "successful": [
            {"id": r.id, "eventID": r.event_id} for r in results if isinstance(r, Accepted)
        ],
        "failed": [
            {"id": r.id, "errorCode": r.code, "errorMessage": r.message}
            for r in results
            if isinstance(r, Failed)
        ],
    }
