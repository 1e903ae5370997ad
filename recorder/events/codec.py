"""``ApiEvent`` bytes on Kafka: Avro single-object encoding of one CloudTrail record.

The frame is the Avro spec's single-object encoding (marker ``C3 01``, then the 8-byte
little-endian CRC-64-AVRO fingerprint of the schema, then the schemaless body), rather
than a private header, so any Avro library can read the topic and a reader can tell a
record of a schema it does not know from a corrupt one. Decode errors say which of the
two (or which other thing) went wrong, because the router puts them on the dead-letter
topic for a person to read.
"""

from __future__ import annotations

from collections.abc import Mapping
from io import BytesIO
from typing import Any

from fastavro import schemaless_reader, schemaless_writer

from recorder.events.datum import from_datum, to_datum
from recorder.events.errors import EventDecodeError, InvalidEventError
from recorder.events.schema import API_EVENT, FINGERPRINT, PARSED_SCHEMA

MAGIC = b"\xc3\x01"
HEADER = MAGIC + FINGERPRINT
#: Schemas this reader can decode, by fingerprint. One today; a reader that must span a
#: schema change keeps the previous one here (and resolves it to the current shape).
_READABLE: Mapping[bytes, Mapping[str, Any]] = {FINGERPRINT: PARSED_SCHEMA}


def encode(record: dict[str, Any]) -> bytes:
    """Frame one CloudTrail record (the ``json.loads`` form of one ``Records`` element).

    Raises ``InvalidEventError`` only when the record cannot be carried at all: a missing
    ``eventVersion``/``eventTime``/``awsRegion``, or a value that is not JSON.
    """
    if not isinstance(record, dict):
        raise InvalidEventError("record", f"expected a JSON object, got {type(record).__name__}")
    datum = to_datum(record, API_EVENT)
    out = BytesIO()
    out.write(HEADER)
    try:
        schemaless_writer(out, PARSED_SCHEMA, datum)
    except UnicodeEncodeError as exc:  # lone surrogates: str that is not Unicode text
        raise InvalidEventError("record", f"a string is not valid Unicode ({exc.reason})") from None
    return out.getvalue()


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
    if len(data) < len(HEADER):
        raise EventDecodeError(
            "truncated", f"truncated header: {len(data)} bytes, the header alone is {len(HEADER)}"
        )
    fingerprint = data[2 : len(HEADER)]
    schema = _READABLE.get(fingerprint)
    if schema is None:
        raise EventDecodeError(
            "unknown-schema",
            f"unknown schema fingerprint {fingerprint.hex()}: this reader knows "
            f"recorder.ApiEvent {FINGERPRINT.hex()} only (written by a newer producer?)",
        )
    body = BytesIO(data)
    body.seek(len(HEADER))
    try:
        datum = schemaless_reader(body, schema, None)
    except EOFError:
        raise EventDecodeError(
            "truncated",
            f"truncated body: the record ends early ({len(data) - len(HEADER)} body bytes)",
        ) from None
    except Exception as exc:  # fastavro reports bad bytes as whatever it trips on
        raise EventDecodeError(
            "corrupt", f"corrupt body: {type(exc).__name__}: {exc}".rstrip(": ")
        ) from None
    if (rest := len(data) - body.tell()) != 0:
        raise EventDecodeError("corrupt", f"corrupt body: {rest} bytes left after the record")
    extras: list[str] = []
    record = from_datum(datum, API_EVENT, extras=extras)
    return record, not extras
