"""The producer's signature on a record: an HMAC over its Kafka key, its routing
fields and its value bytes.

Kafka headers carry it: ``recorder-key-id`` (the key's id), ``recorder-signature``
(HMAC-SHA256, lowercase hex) and, from producers that send their records' routing
fields, ``recorder-route`` (:mod:`recorder.events.routing_fields`). With the route
header the HMAC is of ``recorder-event-v2``, a NUL, the key's length as 4 big-endian
bytes, the key, the route header's length as 4 big-endian bytes, the route header,
then the value; without it, of ``recorder-event-v1``, a NUL, the key's length, the
key, then the value. The signature is checked over the bytes as they travel, before
anything decodes them, so a reader that routes on the header never has to decode a
record it would refuse; the key (the recipient account) and the route header are
covered, so a signed record can be neither re-keyed to another account's partition
nor re-routed, and the two forms' prefixes differ, so a route header cannot be
dropped from (or added to) a signed record either.

In another language it is three lines, e.g. in Go::

    mac := hmac.New(sha256.New, []byte(secret))
    mac.Write([]byte("recorder-event-v2\\x00")); binary.Write(mac, binary.BigEndian, uint32(len(key)))
    mac.Write(key); binary.Write(mac, binary.BigEndian, uint32(len(route))); mac.Write(route)
    mac.Write(value); sig := hex.EncodeToString(mac.Sum(nil))
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from recorder.events.routing_fields import ROUTE_HEADER
from recorder.provenance.keys import Producer, ProducerKey, ProducerKeys, Rejected

KEY_ID_HEADER = "recorder-key-id"
SIGNATURE_HEADER = "recorder-signature"
_DOMAIN = b"recorder-event-v1\x00"
_ROUTED_DOMAIN = b"recorder-event-v2\x00"

Headers = Sequence[tuple[str, bytes]]


def _digest(mac: object, key: bytes, value: bytes, route: bytes | None = None) -> bytes:
    h = mac.copy()  # type: ignore[attr-defined]
    # one update of the joined message: the router signs or checks every record, and
    # six calls into the HMAC cost more than copying the bytes once
    if route is None:
        h.update(b"".join((_DOMAIN, _length(key), key, value)))
    else:
        h.update(b"".join((_ROUTED_DOMAIN, _length(key), key, _length(route), route, value)))
    return h.hexdigest().encode()  # type: ignore[no-any-return]


def _length(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big")


def sign(
    key: ProducerKey, kafka_key: bytes, value: bytes, route: bytes | None = None
) -> list[tuple[str, bytes]]:
    """The Kafka headers that sign one record (and send its route header, if given or
    carried by ``value``: :class:`recorder.events.codec.Encoded`)."""
    return Signer(key).headers(kafka_key, value, route)


class Signer:
    """:func:`sign` with the key schedule done once: what producers call per record."""

    __slots__ = ("_id", "_mac", "key_id")

    def __init__(self, key: ProducerKey) -> None:
        self.key_id = key.key_id
        self._id = key.key_id.encode()
        self._mac = key.mac()

    def headers(
        self, kafka_key: bytes, value: bytes, route: bytes | None = None
    ) -> list[tuple[str, bytes]]:
        """The signing headers of one record; ``route``: its routing fields' header
        (default: the one an encoded value carries, if any)."""
        if route is None:
            route = getattr(value, "route", None)
        if route is None:
            return [
                (KEY_ID_HEADER, self._id),
                (SIGNATURE_HEADER, _digest(self._mac, kafka_key, value)),
            ]
        return [
            (KEY_ID_HEADER, self._id),
            (ROUTE_HEADER, route),
            (SIGNATURE_HEADER, _digest(self._mac, kafka_key, value, route)),
        ]


def verify(
    keys: ProducerKeys, headers: Headers | None, kafka_key: bytes, value: bytes
) -> tuple[Producer, str]:
    """The producer that signed these bytes and its key id, or :class:`Rejected`."""
    producer, key_id, _ = verify_routed(keys, headers, kafka_key, value)
    return producer, key_id


def verify_routed(
    keys: ProducerKeys, headers: Headers | None, kafka_key: bytes, value: bytes
) -> tuple[Producer, str, bytes | None]:
    """The producer that signed these bytes, its key id, and the route header its
    signature covers (None: the record came without one), or :class:`Rejected`.

    Reasons name the key id (never the secret): unsigned, unknown key, revoked key,
    bad signature. Constant-time comparison; no decoding of the value.
    """
    raw_id = signature = route = None
    for k, v in headers or ():  # the first of each
        if k == KEY_ID_HEADER:
            raw_id = v if raw_id is None else raw_id
        elif k == SIGNATURE_HEADER:
            signature = v if signature is None else signature
        elif k == ROUTE_HEADER:
            route = v if route is None else route
    if raw_id is None or signature is None:
        raise Rejected(
            "unsigned", f"unsigned record: no {KEY_ID_HEADER} and {SIGNATURE_HEADER} headers"
        )
    key_id = raw_id.decode("utf-8", "replace")
    entry = keys.entry(key_id)
    if entry is None:
        shown = key_id if len(key_id) <= 64 else key_id[:61] + "..."
        revoked_by = keys.revoked(key_id)
        if revoked_by is not None:
            raise Rejected(
                "revoked_key",
                f"producer key {shown} (producer {revoked_by.name}) is revoked",
                key_id,
            )
        raise Rejected("unknown_key", f"producer key {shown!r} is not known", None)
    if not hmac.compare_digest(_digest(entry.mac, kafka_key, value, route), signature):
        raise Rejected(
            "bad_signature",
            f"the signature does not match the record for producer key {key_id} "
            f"(producer {entry.producer.name})",
            key_id,
        )
    return entry.producer, key_id, route
