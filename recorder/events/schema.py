"""The wire contract as Python sees it: ``schemas/api_event.avsc``, parsed once.

Everything else in the package is derived from the ``.avsc`` (the member names, their
order, which ones are JSON text) so that the schema file stays the single place a field
is added. Loaded at import: a read of package data, not a mutation of anyone's state.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.resources import files
from typing import Any, TypeAlias

from fastavro import parse_schema
from fastavro.schema import fingerprint, to_parsing_canonical_form

#: How a member travels. Nested records and arrays of records use ``Shape``/``ListOf``.
STRING = "string"
BOOLEAN = "boolean"
JSON = "json"  # free-form JSON as JSON text: Avro ``string`` with ``logicalType: json``

#: The catch-all field each record type carries; not a CloudTrail member.
EXTRA = "extra"


@dataclass(frozen=True, slots=True)
class Shape:
    """The members of one Avro record type, in schema order (= the order CloudTrail writes)."""

    name: str
    members: tuple[tuple[str, Kind], ...]
    kinds: Mapping[str, Kind]
    required: tuple[str, ...]  # non-nullable in the schema: encode cannot do without them


@dataclass(frozen=True, slots=True)
class ListOf:
    item: Shape


Kind: TypeAlias = str | Shape | ListOf


def _kind(avro_type: Any) -> Kind:
    if isinstance(avro_type, str):
        if avro_type == STRING:
            return STRING  # the constant itself: callers compare kinds with ``is``
        if avro_type == BOOLEAN:
            return BOOLEAN
    elif avro_type.get("logicalType") == JSON and avro_type["type"] == STRING:
        return JSON
    elif avro_type["type"] == "record":
        return _shape(avro_type)
    elif avro_type["type"] == "array":
        return ListOf(_shape(avro_type["items"]))
    raise ValueError(f"api_event.avsc: no Python mapping for Avro type {avro_type!r}")


def _shape(record: Mapping[str, Any]) -> Shape:
    members: list[tuple[str, Kind]] = []
    required: list[str] = []
    for field in record["fields"]:
        if field["name"] == EXTRA:
            continue
        avro_type = field["type"]
        if isinstance(avro_type, list):
            (avro_type,) = (t for t in avro_type if t != "null")
        else:
            required.append(field["name"])
        members.append((field["name"], _kind(avro_type)))
    return Shape(record["name"], tuple(members), dict(members), tuple(required))


SCHEMA_JSON: Mapping[str, Any] = json.loads(
    (files("recorder") / "schemas" / "api_event.avsc").read_text(encoding="utf-8")
)
PARSED_SCHEMA: Mapping[str, Any] = parse_schema(SCHEMA_JSON)
#: CRC-64-AVRO of the parsing canonical form, little-endian: the Avro single-object
#: encoding's schema id. fastavro's hex is already in that byte order.
FINGERPRINT: bytes = bytes.fromhex(
    fingerprint(to_parsing_canonical_form(PARSED_SCHEMA), "CRC-64-AVRO")
)
API_EVENT: Shape = _shape(SCHEMA_JSON)
#: Top-level member names in the order a log file shows them.
FIELD_ORDER: tuple[str, ...] = tuple(name for name, _ in API_EVENT.members)
