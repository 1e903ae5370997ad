"""The producer's signature on a record: an HMAC over its Kafka key and value bytes.

Two Kafka headers carry it: ``recorder-key-id`` (the key's id) and
``recorder-signature`` (HMAC-SHA256, lowercase hex, of ``recorder-event-v1``, a NUL,
the key's length as 4 big-endian bytes, the key, then the value). The signature is
checked over the bytes as they travel, before anything decodes them, so a reader
that routes on a few fields never has to decode a record it would refuse; the key
(the recipient account) is covered, so a signed record cannot be re-keyed to
another account's partition.

In another language it is three lines, e.g. in Go::

    mac := hmac.New(sha256.New, []byte(secret))
    mac.Write([]byte("recorder-event-v1\\x00")); binary.Write(mac, binary.BigEndian, uint32(len(key)))
    mac.Write(key); mac.Write(value); sig := hex.EncodeToString(mac.Sum(nil))
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Sequence

from recorder.provenance.keys import Producer, ProducerKey, ProducerKeys, Rejected

KEY_ID_HEADER = "recorder-key-id"
SIGNATURE_HEADER = "recorder-signature"
_DOMAIN = b"recorder-event-v1\x00"

Headers = Sequence[tuple[str, bytes]]


def _digest(mac: object, key: bytes, value: bytes) -> bytes:
    h = mac.copy()  # type: ignore[attr-defined]
    h.update(_DOMAIN)
    h.update(len(key).to_bytes(4, "big"))
    h.update(key)
    h.update(value)
    return h.hexdigest().encode()  # type: ignore[no-any-return]


def sign(key: ProducerKey, kafka_key: bytes, value: bytes) -> list[tuple[str, bytes]]:
    """The Kafka headers that sign one record."""
    return [
        (KEY_ID_HEADER, key.key_id.encode()),
        (SIGNATURE_HEADER, _digest(key.mac(), kafka_key, value)),
    ]


class Signer:
    """:func:`sign` with the key schedule done once: what producers call per record."""

    __slots__ = ("_id", "_mac", "key_id")

    def __init__(self, key: ProducerKey) -> None:
        self.key_id = key.key_id
        self._id = key.key_id.encode()
        self._mac = key.mac()

    def headers(self, kafka_key: bytes, value: bytes) -> list[tuple[str, bytes]]:
        return [(KEY_ID_HEADER, self._id), (SIGNATURE_HEADER, _digest(self._mac, kafka_key, value))]


def _header(headers: Iterable[tuple[str, bytes]] | None, name: str) -> bytes | None:
    for k, v in headers or ():
        if k == name:
            return v
    return None


def verify(
    keys: ProducerKeys, headers: Headers | None, kafka_key: bytes, value: bytes
) -> tuple[Producer, str]:
    """The producer that signed these bytes and its key id, or :class:`Rejected`.

    Reasons name the key id (never the secret): unsigned, unknown key, revoked key,
    bad signature. Constant-time comparison; no decoding of the value.
    """
    raw_id = _header(headers, KEY_ID_HEADER)
    signature = _header(headers, SIGNATURE_HEADER)
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
    if not hmac.compare_digest(_digest(entry.mac, kafka_key, value), signature):
        raise Rejected(
            "bad_signature",
            f"the signature does not match the record for producer key {key_id} "
            f"(producer {entry.producer.name})",
            key_id,
        )
    return entry.producer, key_id
