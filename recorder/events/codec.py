"""``ApiEvent`` bytes on Kafka: Avro single-object encoding of one CloudTrail record.

The frame is the Avro spec's single-object encoding (marker ``C3 01``, then the 8-byte
little-endian CRC-64-AVRO fingerprint of the schema, then the schemaless body), rather
than a private header, so any Avro library can read the topic and a reader can tell a
record of a schema it does not know from a corrupt one.

A reader decodes every published version (``schema.PUBLISHED``), each with its own
schema, into the same CloudTrail record: members an older version does not name
travel in its ``extra``. A writer writes the version it is told to: during a rolling
upgrade producers keep writing the previous version until every router reads the new
one (``RECORDER_EVENT_SCHEMA_VERSION``; README, "Upgrading the event schema"). Decode errors say which of the
two (or which other thing) went wrong, because the router puts them on the dead-letter
topic for a person to read.
"""

from __future__ import annotations

from typing import Any

from recorder.events.errors import EventDecodeError, InvalidEventError
from recorder.events.reader import Truncated, reader_for
from recorder.events.routing_fields import route_header
from recorder.events.schema import BY_FINGERPRINT, BY_VERSION, CURRENT, PUBLISHED, Published
from recorder.events.writer import writer_for

MAGIC = b"\xc3\x01"
HEADER_SIZE = len(MAGIC) + 8
_KNOWN = ", ".join(f"v{p.version} {p.fingerprint.hex()}" for p in PUBLISHED)


def schema_version(version: int | None) -> Published:
    """The published schema of that version (None: the current one)."""
    if version is None:
        return CURRENT
    found = BY_VERSION.get(version)
    if found is None:
        raise ValueError(f"no published ApiEvent schema version {version} (published: {_KNOWN})")
    return found


class Encoded(bytes):
    """The bytes of one encoded record, carrying beside them (``route``) the
    ``recorder-route`` header of its routing fields
    (:mod:`recorder.events.routing_fields`).

    Whatever sends the value signs it (:class:`recorder.provenance.signature.Signer`),
    and the signature then covers the header too and sends it; a value that lost it
    (a copy, a slice, bytes read back from a journal) is still a whole record, signed
    and sent without the header, which the router then decodes to route.
    """

    route: bytes


def encode(record: dict[str, Any], version: int | None = None) -> Encoded:
    """Frame one CloudTrail record (the ``json.loads`` form of one ``Records`` element)
    in schema ``version`` (default: the current one), with its routing fields' header.

    Raises ``InvalidEventError`` only when the record cannot be carried at all: a missing
    ``eventVersion``/``eventTime``/``awsRegion``, or a value that is not JSON.
    """
    if not isinstance(record, dict):
        raise InvalidEventError("record", f"expected a JSON object, got {type(record).__name__}")
    schema = schema_version(version)
    out = bytearray(MAGIC)
    out += schema.fingerprint
    writer_for(schema.version)(record, out, "")
    encoded = Encoded(out)
    encoded.route = route_header(record)  # after the writer: the record is carriable
    return encoded


def _describe(prefix: bytes) -> str:
    hint = " (looks like JSON, not Avro)" if prefix[:1] in (b"{", b"[") else ""
    return f"{prefix.hex(' ')}{hint}"


def decode(data: bytes | bytearray | memoryview) -> dict[str, Any]:
    """The CloudTrail record framed by ``encode``, with members in log-file order."""
    return decode_typed(data)[0]


def decode_typed(data: bytes | bytearray | memoryview) -> tuple[dict[str, Any], bool]:
    """``decode``, and whether every member the schema names came from its typed field
    (nothing from ``extra``): then ``validate_record(record, typed=True)`` may skip the
    type walk, which the Avro types already did."""
    data = bytes(data)
    if not data:
        raise EventDecodeError("empty", "empty message: expected an Avro single-object api-event")
    if data[:2] != MAGIC[: len(data[:2])]:
        raise EventDecodeError(
            "bad-magic",
            f"bad magic: expected c3 01 (Avro single-object encoding), got {_describe(data[:2])}",
        )
    if len(data) < HEADER_SIZE:
        raise EventDecodeError(
            "truncated", f"truncated header: {len(data)} bytes, the header alone is {HEADER_SIZE}"
        )
    fingerprint = data[2:HEADER_SIZE]
    schema = BY_FINGERPRINT.get(fingerprint)
    if schema is None:
        raise EventDecodeError(
            "unknown-schema",
            f"unknown schema fingerprint {fingerprint.hex()}: this reader knows "
            f"recorder.ApiEvent {_KNOWN} (written by a newer producer?)",
        )
    extras: list[str] = []
    try:
        record, end = reader_for(fingerprint)(data, HEADER_SIZE, extras)
    except EventDecodeError:
        raise
    except (Truncated, IndexError):
        raise EventDecodeError(
            "truncated",
            f"truncated body: the record ends early ({len(data) - HEADER_SIZE} body bytes)",
        ) from None
    except Exception as exc:  # whatever else bad bytes trip: still one bad record
        raise EventDecodeError(
            "corrupt", f"corrupt body: {type(exc).__name__}: {exc}".rstrip(": ")
        ) from None
    if (rest := len(data) - end) != 0:
        raise EventDecodeError("corrupt", f"corrupt body: {rest} bytes left after the record")
    return record, not extras
