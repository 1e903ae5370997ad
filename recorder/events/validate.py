"""Is this a record CloudTrail could have written? The gate before routing.

Which members are required follows the guide's record contents (line 11427) as its own
examples bear it out, since the "Optional: False" labels alone would reject half of them:

* ``eventVersion``, ``eventTime``, ``awsRegion``: in every record the guide shows,
  Insights events included.
* ``eventID`` from eventVersion 1.01 and ``eventType`` from 1.02: the versions that
  introduced them ("Since"); the guide's 1.0 records (lines 629-871) carry neither.
* API, console and service events: ``userIdentity``, ``eventSource``, ``eventName``,
  ``sourceIPAddress`` (in every such example). Not ``userAgent``, ``requestParameters`` or
  ``responseElements``, labelled "Optional: False" but absent from the UpdateTrail error
  record (line 912), and ``responseElements`` is "omitted" for read-only calls (line
  11542); not ``requestID``, absent from sign-in and service events (lines 1521, 12021).
* Insights events (``eventType`` ``AwsCloudTrailInsight``): ``insightDetails`` and
  ``sharedEventID`` ("Optional: False" under "Insights Event Record Fields", line 11681)
  instead of the caller's members, which they do not have (lines 954, 11362).
* Events from outside AWS (``eventCategory`` ``ActivityAuditLog``, PutAuditEvents):
  ``userIdentity``, ``eventSource``, ``eventName`` (the CloudTrail Lake integrations
  event schema; ``sourceIPAddress`` is optional there).
* Not ``recipientAccountId``: "Optional: True" (line 11641), absent at line 12066.

Any optional member may be JSON null. Members the guide does not name are allowed.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from recorder.aws.times import parse_seconds
from recorder.events.errors import InvalidEventError, show
from recorder.events.schema import API_EVENT, BOOLEAN, JSON, STRING, ListOf, Shape

INSIGHT = "AwsCloudTrailInsight"
MAX_BYTES = 256 * 1024

_EVENT_VERSION = re.compile(r"([0-9]+)\.([0-9]+)")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]{1,2}")
_ACCOUNT_ID = re.compile(r"[0-9]{12}")

_ALWAYS = ("eventTime", "awsRegion")
_SINCE = (("eventID", (1, 1), "1.01"), ("eventType", (1, 2), "1.02"))
_CALLER = ("userIdentity", "eventSource", "eventName", "sourceIPAddress")
_INSIGHT = ("insightDetails", "sharedEventID")
#: Events from outside AWS (PutAuditEvents): the integrations event schema requires
#: no ``sourceIPAddress`` of them.
ACTIVITY_AUDIT_LOG = "ActivityAuditLog"
_ACTIVITY = ("userIdentity", "eventSource", "eventName")
_NOT_EMPTY = ("eventSource", "eventName", "eventID")


def validate_record(
    record: dict[str, Any], *, max_bytes: int = MAX_BYTES, typed: bool = False
) -> None:
    """Raise ``InvalidEventError`` naming the first member that breaks the guide's rules.

    ``typed``: the record is what ``decode_typed`` returned with True, so every named
    member already has its schema type, except free-form JSON members, which the Avro
    type (JSON text) does not constrain; only those are checked.
    """
    if not isinstance(record, dict):
        raise InvalidEventError("record", f"expected a JSON object, got {type(record).__name__}")
    version = _event_version(record)
    get = record.get  # the checks below run for every routed record: kept inline
    for name in _ALWAYS:
        if get(name) is None:
            _require(record, name, "in every record")
    for name, since, label in _SINCE:
        if version >= since and get(name) is None:
            _require(record, name, f"since eventVersion {label}")
    if get("eventType") == INSIGHT:
        for name in _INSIGHT:
            _require(record, name, "in Insights events")
    elif get("eventCategory") == ACTIVITY_AUDIT_LOG:
        for name in _ACTIVITY:
            if get(name) is None:
                _require(record, name, "in events from outside AWS")
    else:
        for name in _CALLER:
            if get(name) is None:
                _require(record, name, "in API, console and service events")
    if typed:
        _check_json_members(record)
    else:
        _check_types(record, API_EVENT, "")
    _check_values(record)
    _check_size(record, max_bytes)


def _require(record: dict[str, Any], name: str, when: str) -> None:
    if record.get(name) is None:
        state = "null" if name in record else "absent"
        raise InvalidEventError(name, f"required {when}, but {state}")


_VERSIONS: dict[str, tuple[int, int]] = {}  # the few eventVersion strings seen, parsed


def _event_version(record: dict[str, Any]) -> tuple[int, int]:
    _require(record, "eventVersion", "in every record")
    value = record["eventVersion"]
    known = _VERSIONS.get(value) if isinstance(value, str) else None
    if known is not None:
        return known
    match = _EVENT_VERSION.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise InvalidEventError(
            "eventVersion", f"expected a version like '1.05', got {show(value)}"
        )
    version = int(match[1]), int(match[2])
    if len(_VERSIONS) < 1000:
        _VERSIONS[value] = version
    return version


def _check_types(obj: dict[str, Any], shape: Shape, path: str) -> None:
    for name, kind in shape.members:
        value = obj.get(name)
        if value is None:
            continue
        where = path + name
        if kind is STRING:
            if not isinstance(value, str):
                raise InvalidEventError(where, f"expected a string, got {show(value)}")
        elif kind is BOOLEAN:
            if not isinstance(value, bool):
                raise InvalidEventError(where, f"expected true or false, got {show(value)}")
        elif kind is JSON:
            if not isinstance(value, dict):
                raise InvalidEventError(where, f"expected a JSON object or null, got {show(value)}")
        elif isinstance(kind, Shape):
            if not isinstance(value, dict):
                raise InvalidEventError(where, f"expected an object, got {show(value)}")
            _check_types(value, kind, where + ".")
        elif isinstance(kind, ListOf):
            if not isinstance(value, list):
                raise InvalidEventError(where, f"expected a list of objects, got {show(value)}")
            for i, item in enumerate(value):
                if not isinstance(item, dict):
                    raise InvalidEventError(
                        f"{where}[{i}]", f"expected an object, got {show(item)}"
                    )
                _check_types(item, kind.item, f"{where}[{i}].")


def _json_paths(shape: Shape, path: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Paths of the free-form JSON members outside lists (list items hold none)."""
    out: list[tuple[str, ...]] = []
    for name, kind in shape.members:
        if kind is JSON:
            out.append((*path, name))
        elif isinstance(kind, Shape):
            out.extend(_json_paths(kind, (*path, name)))
    return out


_JSON_PATHS = _json_paths(API_EVENT, ())


def _check_json_members(record: dict[str, Any]) -> None:
    for path in _JSON_PATHS:
        value: Any = record
        for name in path:
            value = value.get(name)
            if value is None:
                break
        else:
            if not isinstance(value, dict):
                raise InvalidEventError(
                    ".".join(path), f"expected a JSON object or null, got {show(value)}"
                )


class _Seen:
    """Values already found valid, remembered so that the stream's few distinct event
    times, regions and account IDs are matched once, not once per record."""

    __slots__ = ("_check", "_seen")

    def __init__(self, check: Any) -> None:
        self._check = check
        self._seen: set[str] = set()

    def __call__(self, value: str) -> bool:
        if value in self._seen:
            return True
        if not self._check(value):
            return False
        if len(self._seen) >= 10_000:
            self._seen.clear()
        self._seen.add(value)
        return True


def _is_event_time(text: str) -> bool:
    try:
        parse_seconds(text)
    except ValueError:
        return False
    return True


_valid_time = _Seen(_is_event_time)
_valid_region = _Seen(lambda v: _REGION.fullmatch(v) is not None)
_valid_account = _Seen(lambda v: _ACCOUNT_ID.fullmatch(v) is not None)


def _check_values(record: dict[str, Any]) -> None:
    time = record["eventTime"]
    if not _valid_time(time):
        raise InvalidEventError("eventTime", f"expected UTC YYYY-MM-DDTHH:MM:SSZ, got {show(time)}")
    region = record["awsRegion"]
    if not _valid_region(region):
        raise InvalidEventError(
            "awsRegion", f"expected a region like 'us-east-2', got {show(region)}"
        )
    for name in _NOT_EMPTY:
        if record.get(name) == "":
            raise InvalidEventError(name, "must not be empty")
    for where, value in _account_ids(record):
        if not (isinstance(value, str) and _valid_account(value)):
            raise InvalidEventError(where, f"expected a 12-digit account ID, got {show(value)}")


def _account_ids(record: dict[str, Any]) -> list[tuple[str, Any]]:
    """Every account ID member present (types already checked), with its path."""
    found: list[tuple[str, Any]] = []
    identity = record.get("userIdentity") or {}
    if identity.get("accountId") is not None:
        found.append(("userIdentity.accountId", identity["accountId"]))
    issuer = (identity.get("sessionContext") or {}).get("sessionIssuer") or {}
    if issuer.get("accountId") is not None:
        found.append(("userIdentity.sessionContext.sessionIssuer.accountId", issuer["accountId"]))
    for i, resource in enumerate(record.get("resources") or ()):
        if resource.get("accountId") is not None:
            found.append((f"resources[{i}].accountId", resource["accountId"]))
    if record.get("recipientAccountId") is not None:
        found.append(("recipientAccountId", record["recipientAccountId"]))
    return found


def _check_size(record: dict[str, Any], max_bytes: int) -> None:
    try:
        size = len(orjson.dumps(record))
    except orjson.JSONEncodeError as exc:
        raise InvalidEventError("record", f"not JSON-serialisable: {exc}") from None
    if size > max_bytes:
        raise InvalidEventError("record", f"{size} bytes as JSON, over the {max_bytes}-byte limit")
