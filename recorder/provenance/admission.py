"""The one rule for letting a record in: what the router, the Insights stage and
``recorder route`` all apply, in this order.

1. The producer's signature over the Kafka key, the route header and the value bytes
   (:func:`recorder.provenance.signature.verify_routed`): unsigned, an unknown or
   revoked key, or a signature that does not match is refused before any decoding.
2. The bytes decode as an ``ApiEvent`` (``EventDecodeError`` otherwise).
3. Every account the record names is one its key may write for: the
   ``recipientAccountId`` (which must also be the Kafka key the signature covers),
   ``userIdentity.accountId``, and each ``resources[].accountId``. A producer that
   may write for account A cannot put a record into B's trails, as a recipient, an
   identity or a resource owner (e.g. from ``ExpectedBucketOwner=B``).
4. The guide's rules (``validate_record``), what routing needs
   (:func:`require_routable`), and the classification the producer would have given.

In two halves, so that routing decides before the body is decoded
(:mod:`recorder.events.routing_fields`): :func:`admit_routing` is step 1 and, on the
routing fields the signed ``recorder-route`` header carries, steps 3 and what routing
needs of 4; :func:`admit_body`, for a record some trail selects, is step 2, the body's
routing fields being the header's (else *route_mismatch*: a header never routes a
record where its body would not go), and steps 3 and 4 on the body. A record that
came without a route header is admitted whole by :func:`admit_routing`, as is one
whose routing fields are refused: its refusal is then the body's own, named as the
body names it. :func:`admit` is both halves.

Pure: keys in, a record (or the reason it is refused) out.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from recorder.events import InvalidEventError, classify, decode_typed, validate_record
from recorder.events.routing_fields import first_difference, read_route_header, routing_fields
from recorder.provenance.keys import Producer, ProducerKeys, Rejected
from recorder.provenance.signature import verify_routed

#: What routing and delivery need beyond a valid record (1.0 records have no eventID,
#: Insights events no eventSource; neither is an API call a trail can select).
ROUTABLE_FIELDS = ("eventID", "eventSource", "eventName", "recipientAccountId")


@dataclass(frozen=True, slots=True)
class Admitted:
    record: dict[str, Any]
    key_id: str
    producer: Producer


@dataclass(slots=True)
class Routable:
    """A record admitted as far as routing needs: its routing fields and, once decoded
    and admitted (:func:`admit_body`), the record itself."""

    fields: dict[str, Any]
    key_id: str | None
    producer: Producer | None
    kafka_key: bytes | None
    value: bytes = b""
    from_header: bool = False  # the fields are the producer's route header's
    given: dict[str, Any] | None = None  # a record given whole rather than as bytes
    record: dict[str, Any] | None = None  # the admitted body
    fields_admitted: bool = False  # admit_fields passed: accounts and routability

    @classmethod
    def of_record(
        cls,
        record: dict[str, Any],
        producer: Producer | None = None,
        key_id: str | None = None,
        kafka_key: bytes | None = None,
    ) -> Routable:
        """A record given whole (``recorder route``'s lines): routed by its own routing
        fields, its body admitted on demand as the router's; with a ``producer``, judged
        as signed by its key."""
        return cls(routing_fields(record), key_id, producer, kafka_key, given=record)


def admit(
    keys: ProducerKeys,
    headers: Sequence[tuple[str, bytes]] | None,
    kafka_key: bytes | None,
    value: bytes | None,
) -> Admitted:
    """A record read from ``api-events``, admitted whole; raises :class:`Rejected`,
    ``EventDecodeError`` or ``InvalidEventError`` with the reason."""
    routable = admit_routing(keys, headers, kafka_key, value)
    record = admit_body(routable)
    assert routable.key_id is not None and routable.producer is not None
    return Admitted(record, routable.key_id, routable.producer)


def admit_routing(
    keys: ProducerKeys,
    headers: Sequence[tuple[str, bytes]] | None,
    kafka_key: bytes | None,
    value: bytes | None,
) -> Routable:
    """A record read from ``api-events``, admitted as far as routing needs (see the
    module's docstring); raises :class:`Rejected`, ``EventDecodeError`` or
    ``InvalidEventError`` with the reason."""
    key = kafka_key or b""
    body = value or b""
    producer, key_id, route = verify_routed(keys, headers, key, body)
    if route is None:
        routable = Routable({}, key_id, producer, key, body)
        record = admit_body(routable)
        routable.fields = routing_fields(record)
        return routable
    routable = Routable(read_route_header(route), key_id, producer, key, body, from_header=True)
    admit_fields(routable)
    return routable


def admit_fields(routable: Routable) -> None:
    """Steps 3 and what routing needs of 4, on the routing fields alone. A refusal is
    the body's own when the body has one (the same record refused for the same reason
    however it came), else the fields'."""
    try:
        if routable.producer is not None:
            check_accounts(
                routable.fields, routable.producer, routable.key_id or "?", routable.kafka_key
            )
        require_routable(routable.fields)
    except (Rejected, InvalidEventError):
        admit_body(routable)
        raise
    routable.fields_admitted = True


def admit_body(routable: Routable) -> dict[str, Any]:
    """The record itself, decoded (once) and admitted: steps 2 to 4 on the body, whose
    routing fields must be the ones it was routed by."""
    if routable.record is not None:
        return routable.record
    if routable.given is not None:
        record, typed = routable.given, False
    else:
        record, typed = decode_typed(routable.value)
    if routable.from_header and (found := routing_fields(record)) != routable.fields:
        member = first_difference(routable.fields, found)
        raise Rejected(
            "route_mismatch",
            f"producer key {routable.key_id} (producer "
            f"{routable.producer.name if routable.producer else '?'}): the recorder-route "
            f"header does not match the record it signs ({member})",
            routable.key_id,
        )
    if routable.from_header and routable.fields_admitted:
        # The body's routing fields are the header's, which passed step 3 and the
        # routability check (admit_fields): both read nothing else, so only the
        # guide's rules and the classification are left to the body.
        validate_record(record, typed=typed)
        fill_classification(record)
    else:
        admit_record(
            record,
            typed=typed,
            producer=routable.producer,
            key_id=routable.key_id,
            kafka_key=routable.kafka_key,
        )
    routable.record = record
    return record


def admit_record(
    record: dict[str, Any],
    *,
    typed: bool = False,
    producer: Producer | None = None,
    key_id: str | None = None,
    kafka_key: bytes | None = None,
) -> None:
    """Steps 3 and 4 on a decoded record (``recorder route`` starts here, with the key
    it is told the records are signed with; without one it checks no accounts)."""
    if producer is not None:
        check_accounts(record, producer, key_id or "?", kafka_key)
    validate_record(record, typed=typed)
    require_routable(record)
    fill_classification(record)


def named_accounts(record: Mapping[str, Any]) -> Iterator[tuple[str, object]]:
    """(member, value) of every account a record names."""
    yield "recipientAccountId", record.get("recipientAccountId")
    identity = record.get("userIdentity")
    if isinstance(identity, Mapping) and identity.get("accountId") is not None:
        yield "userIdentity.accountId", identity.get("accountId")
    resources = record.get("resources")
    if isinstance(resources, list):
        for i, r in enumerate(resources):
            if isinstance(r, Mapping) and r.get("accountId") is not None:
                yield f"resources[{i}].accountId", r.get("accountId")


def check_accounts(
    record: Mapping[str, Any], producer: Producer, key_id: str, kafka_key: bytes | None
) -> None:
    recipient = record.get("recipientAccountId")
    if kafka_key is not None and isinstance(recipient, str) and kafka_key != recipient.encode():
        raise Rejected(
            "key_mismatch",
            f"producer key {key_id}: the record's Kafka key "
            f"{kafka_key[:20].decode('utf-8', 'replace')!r} is not its recipientAccountId "
            f"{recipient[:20]!r}",
            key_id,
        )
    if _accounts_allowed(record, producer):
        return
    for member, account in named_accounts(record):
        if account is None:
            continue  # an absent recipient is the guide's rules' to report
        if not isinstance(account, str) or not producer.allows(account):
            raise Rejected(
                "account_not_allowed",
                f"producer key {key_id} (producer {producer.name}) may not write for account "
                f"{str(account)[:20]} ({member})",
                key_id,
            )


def _accounts_allowed(record: Mapping[str, Any], producer: Producer) -> bool:
    """Whether every account :func:`named_accounts` gives is one ``producer`` may write
    for: the check of every record admitted, without the generator (False: let
    ``named_accounts`` find and name the first that is not)."""
    allows = producer.allows
    account = record.get("recipientAccountId")
    if account is not None and not (isinstance(account, str) and allows(account)):
        return False
    identity = record.get("userIdentity")
    if type(identity) is not dict:
        if isinstance(identity, Mapping):
            return False  # not the common case: named_accounts decides
        identity = None
    if identity is not None:
        account = identity.get("accountId")
        if account is not None and not (isinstance(account, str) and allows(account)):
            return False
    resources = record.get("resources")
    if isinstance(resources, list):
        for r in resources:
            if type(r) is not dict:
                return False
            account = r.get("accountId")
            if account is not None and not (isinstance(account, str) and allows(account)):
                return False
    return True


def require_routable(record: dict[str, Any]) -> None:
    for name in ROUTABLE_FIELDS:
        if not isinstance(record.get(name), str) or not record[name]:
            raise InvalidEventError(name, "is required to route an event")


def fill_classification(record: dict[str, Any]) -> None:
    """Fill what the producer would have; a category already given wins (as in routing).
    A network activity event has neither ``readOnly`` nor ``managementEvent`` (AWS's
    examples; ``managementEvent`` is for API, console and service events only)."""
    if "readOnly" in record and "managementEvent" in record and "eventCategory" in record:
        return
    if record.get("eventCategory") in ("NetworkActivity", "ActivityAuditLog"):
        return  # neither has readOnly or managementEvent (AWS's schemas)
    c = classify(record["eventSource"], record["eventName"])
    record.setdefault("readOnly", c.read_only)
    category = record.get("eventCategory")
    if category is None and isinstance(record.get("managementEvent"), bool):
        category = "Management" if record["managementEvent"] else "Data"
    record.setdefault("eventCategory", category or c.event_category)
    record.setdefault("managementEvent", record["eventCategory"] == "Management")
