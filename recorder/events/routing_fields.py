"""What routing reads of a record, and the form producers send it in beside the body.

Where an event goes depends on a few members of its record: who it is for
(``recipientAccountId``), what it is (``eventSource``, ``eventName``, ``readOnly``,
``eventCategory``, ``managementEvent``, ``eventType``, ``errorCode``), where
(``awsRegion``; ``tlsDetails.clientProvidedHostHeader`` for STS's global endpoint),
on what (``resources``: type, ARN, owner), by whom (``userIdentity.arn``, and the
accounts a producer key must cover: ``userIdentity.accountId``,
``resources[].accountId``), how (``sessionCredentialFromConsole``, ``vpcEndpointId``),
when (``eventTime``, against a trail's logging periods) and which one it is
(``eventID``, for repeats). :func:`routing_fields` is the record restricted to those
members; the selector engine, the fan-out, the S3 owner rule and the account checks of
admission read nothing else, so routing ``routing_fields(record)`` decides exactly as
routing the record (``tests/unit/routing/test_routing_fields.py`` holds them to it).

Producers send it as the Kafka header ``recorder-route``: the JSON of
``routing_fields(record)``, covered by the producer's signature
(:mod:`recorder.provenance.signature`). The router decides on it alone, so an event no
trail selects (most of a busy account's traffic) is never decoded; an event some
trail selects is decoded once, and its body's routing fields must be the header's
(:func:`recorder.provenance.admission.admit_body`), so a header can never route a
record somewhere its body would not go. A member is carried exactly as the record has
it (a null stays null, an absent member stays absent), so an honest producer's header
always equals what the router reads back from the body.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from recorder.events.errors import EventDecodeError

#: The Kafka header that carries a record's routing fields (JSON).
ROUTE_HEADER = "recorder-route"

_TOP = (
    "eventTime",
    "eventSource",
    "eventName",
    "awsRegion",
    "eventID",
    "readOnly",
    "eventType",
    "errorCode",
    "managementEvent",
    "recipientAccountId",
    "eventCategory",
    "sessionCredentialFromConsole",
    "vpcEndpointId",
)
_IDENTITY = ("arn", "accountId")
_TLS = ("clientProvidedHostHeader",)
_RESOURCE = ("type", "ARN", "ARNPrefix", "accountId")


def _some(obj: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return {name: obj[name] for name in names if name in obj}


def routing_fields(record: Mapping[str, Any]) -> dict[str, Any]:
    """The members of ``record`` that routing reads, as the record has them.

    ``userIdentity`` and ``tlsDetails`` keep only what routing reads of them (and are
    left out when they are not objects: routing reads nothing of them then);
    ``resources`` keeps every entry, in order (admission names an entry by its
    position), each with its ``type``, ``ARN``/``ARNPrefix`` and ``accountId``; an
    entry or a ``resources`` that is not what CloudTrail writes is kept as it is, for
    routing to refuse as it would refuse the record.
    """
    out = {name: record[name] for name in _TOP if name in record}
    identity = record.get("userIdentity")
    if isinstance(identity, Mapping) and (some := _some(identity, _IDENTITY)):
        out["userIdentity"] = some
    tls = record.get("tlsDetails")
    if isinstance(tls, Mapping) and (some := _some(tls, _TLS)):
        out["tlsDetails"] = some
    if "resources" in record:
        resources = record["resources"]
        if isinstance(resources, list | tuple):
            resources = [_some(r, _RESOURCE) if isinstance(r, Mapping) else r for r in resources]
        out["resources"] = resources
    return out


def route_header(record: Mapping[str, Any]) -> bytes:
    """The ``recorder-route`` header's value for ``record``: compact JSON."""
    return orjson.dumps(routing_fields(record))


def read_route_header(value: bytes) -> dict[str, Any]:
    """The routing fields a ``recorder-route`` header carries; ``EventDecodeError`` if
    it is not a JSON object."""
    try:
        fields = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise EventDecodeError("corrupt", f"bad {ROUTE_HEADER} header: not JSON ({exc})") from None
    if not isinstance(fields, dict):
        raise EventDecodeError(
            "corrupt", f"bad {ROUTE_HEADER} header: expected a JSON object of routing fields"
        )
    return fields


def first_difference(a: Mapping[str, Any], b: Mapping[str, Any]) -> str:
    """The first member (in routing's order) whose value differs between two sets of
    routing fields: what a refusal names."""
    for name in (*_TOP, "userIdentity", "tlsDetails", "resources"):
        if a.get(name, ...) != b.get(name, ...):
            return name
    return next((k for k in sorted({*a, *b}) if a.get(k, ...) != b.get(k, ...)), "?")
