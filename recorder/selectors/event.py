"""What selectors look at in a record, extracted once per record.

Records are CloudTrail JSON objects. ``readOnly``, ``managementEvent`` and
``eventCategory`` are taken from the record when present; a record without them is
classified as the producer would (:func:`recorder.events.classify.classify`).
``eventCategory`` decides whether the management part or the data part of a basic
selector applies.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from recorder.events.classify import classify


class RecordError(ValueError):
    """The record cannot be routed: a required field is missing or has the wrong type."""


class Resource(NamedTuple):
    """One ``resources`` entry; ``account_id`` is the owner CloudTrail names, if any."""

    type: str
    arn: str
    account_id: str | None = None


class Event(NamedTuple):
    """A named tuple rather than a frozen dataclass: one is made per routed event, and
    a frozen dataclass's ``__init__`` cost four times as much."""

    source: str
    name: str
    region: str
    account_id: str  # recipientAccountId: the account the event occurred in
    category: str  # "Management", "Data", "NetworkActivity" (else: matches no selector)
    read_only: bool
    resources: tuple[Resource, ...] = ()
    # The other fields advanced selectors test; an absent member is "" (so Equals
    # fails and the Not forms hold), an absent sessionCredentialFromConsole "false".
    event_type: str = ""
    error_code: str = ""
    user_arn: str = ""  # userIdentity.arn
    from_console: str = "false"  # sessionCredentialFromConsole
    vpc_endpoint_id: str = ""

    def with_resources(self, resources: tuple[Resource, ...]) -> Event:
        return self._replace(resources=resources)

    def field(self, name: str) -> str:
        """The value of an event-level advanced selector field (not resources.*)."""
        return getattr(self, _EVENT_FIELDS[name])


#: Advanced selector field -> Event attribute, for the event-level fields.
_EVENT_FIELDS = {
    "eventCategory": "category",
    "eventSource": "source",
    "eventName": "name",
    "eventType": "event_type",
    "errorCode": "error_code",
    "userIdentity.arn": "user_arn",
    "sessionCredentialFromConsole": "from_console",
    "vpcEndpointId": "vpc_endpoint_id",
}


#: ``tuple.__new__``: a named tuple made from its fields without the generated
#: ``__new__`` (half the cost; the router makes one Event and its Resources per event).
_new = tuple.__new__


def _string(record: Mapping[str, Any], key: str) -> str:
    value = record.get(key)
    if not isinstance(value, str) or not value:
        raise RecordError(f"{key} is missing or not a non-empty string")
    return value


def _resources(raw: object) -> tuple[Resource, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise RecordError("resources is not a list")
    out = []
    for r in raw:
        if type(r) is not dict and not isinstance(r, Mapping):
            raise RecordError("a resources entry is not an object")
        rtype = r.get("type")
        # DeleteObjects and similar name an ARNPrefix instead of an ARN.
        arn = r.get("ARN", r.get("ARNPrefix"))
        account = r.get("accountId")
        if not isinstance(rtype, str) or not isinstance(arn, str):
            raise RecordError("a resources entry lacks a string type or ARN")
        if account is not None and not isinstance(account, str):
            raise RecordError("a resources entry has a non-string accountId")
        out.append(_new(Resource, (rtype, arn, account)))
    return tuple(out)


def event_from_record(record: Mapping[str, Any]) -> Event:
    """The selector view of a record; raises :class:`RecordError` if it is not one.

    The router asks this of every event it reads, so a record as producers write it (a
    dict whose members have their types) takes one pass of plain lookups; anything
    else takes :func:`_checked_event`, which names what is wrong."""
    if type(record) is not dict:
        return _checked_event(record)
    get = record.get
    source = get("eventSource")
    name = get("eventName")
    region = get("awsRegion")
    account = get("recipientAccountId")
    identity = get("userIdentity")
    if not (
        type(source) is str
        and source
        and type(name) is str
        and name
        and type(region) is str
        and region
        and type(account) is str
        and account
        and (identity is None or type(identity) is dict)
    ):
        return _checked_event(record)
    management = get("managementEvent")
    read_only = get("readOnly")
    category = get("eventCategory")
    if read_only is None or category is None:
        read_only, category = _classified(source, name, read_only, category, management)
    if not (
        type(read_only) is bool
        and type(category) is str
        and (management is None or type(management) is bool)
    ):
        return _checked_event(record)
    resources = get("resources")
    found = () if resources is None else _resources(resources)
    user_arn = identity.get("arn") if identity is not None else None
    return _event(record, source, name, region, account, category, read_only, found, user_arn)


def _checked_event(record: Mapping[str, Any]) -> Event:
    """:func:`event_from_record` for any record: each member checked in turn."""
    if not isinstance(record, Mapping):
        raise RecordError("a record is a JSON object")
    source = _string(record, "eventSource")
    name = _string(record, "eventName")
    region = _string(record, "awsRegion")
    account = _string(record, "recipientAccountId")
    management = record.get("managementEvent")
    read_only, category = _classified(
        source, name, record.get("readOnly"), record.get("eventCategory"), management
    )
    if not isinstance(read_only, bool):
        raise RecordError("readOnly is not true or false")
    if not isinstance(category, str):
        raise RecordError("eventCategory is not a string")
    if management is not None and not isinstance(management, bool):
        raise RecordError("managementEvent is not true or false")
    identity = record.get("userIdentity")
    user_arn = identity.get("arn") if isinstance(identity, Mapping) else None
    resources = _resources(record.get("resources"))
    return _event(record, source, name, region, account, category, read_only, resources, user_arn)


def _classified(
    source: str, name: str, read_only: object, category: object, management: object
) -> tuple[object, object]:
    """``readOnly`` and ``eventCategory`` as the record gives them, else as the producer
    would have classified the call (the category from ``managementEvent`` when only
    that is given). Their types are the caller's to check."""
    if read_only is None or (category is None and management is None):
        c = classify(source, name)
        if read_only is None:
            read_only = c.read_only
        if category is None and management is None:
            category = c.event_category
    if category is None:
        category = "Management" if management else "Data"
    return read_only, category


def _event(
    record: Mapping[str, Any],
    source: str,
    name: str,
    region: str,
    account: str,
    category: Any,
    read_only: Any,
    resources: tuple[Resource, ...],
    user_arn: object,
) -> Event:
    """The Event of checked members, with the optional ones read from ``record``: an
    absent or non-string member is "" (sessionCredentialFromConsole: "false")."""
    get = record.get  # plain lookups: every event the router reads comes here
    event_type = get("eventType")
    error_code = get("errorCode")
    console = get("sessionCredentialFromConsole")
    vpc_endpoint = get("vpcEndpointId")
    return _new(
        Event,
        (
            source,
            name,
            region,
            account,
            category,
            read_only,
            resources,
            event_type if isinstance(event_type, str) else "",
            error_code if isinstance(error_code, str) else "",
            user_arn if isinstance(user_arn, str) else "",
            console if console in ("true", "false") else "false",
            vpc_endpoint if isinstance(vpc_endpoint, str) else "",
        ),
    )
