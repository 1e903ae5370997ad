"""The wire contract as Python sees it: the published ``ApiEvent`` schemas, parsed once.

Every version ever published is package data under ``recorder/schemas/api_event/``
(the top-level ``schemas/`` is a link to that directory), one file per version named
by its fingerprint, so a reader holding a frame can find the schema that wrote it.
The newest version (the ``version`` attribute, which Avro leaves out of the
fingerprint) is the current one: everything else in the package is derived from it
(the member names, their order, which ones are JSON text), so that a field is added
in one place. A new version only ever adds nullable members with a null default, so
every version reads every other one (Avro schema resolution) and the ``extra`` rule
of ``datum`` carries a newer member through an older schema.

Loaded at import: a read of package data, not a mutation of anyone's state.
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
    raise ValueError(f"ApiEvent schema: no Python mapping for Avro type {avro_type!r}")


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


@dataclass(frozen=True, slots=True)
class Published:
    """One published version of the ``ApiEvent`` schema."""

    version: int
    fingerprint: bytes  # CRC-64-AVRO of the parsing canonical form, little-endian
    schema_json: Mapping[str, Any]
    parsed: Mapping[str, Any]
    shape: Shape


def _load(text: str) -> Published:
    schema_json = json.loads(text)
    parsed = parse_schema(schema_json)
    # fastavro's hex is already the single-object encoding's byte order.
    fp = bytes.fromhex(fingerprint(to_parsing_canonical_form(parsed), "CRC-64-AVRO"))
    return Published(int(schema_json["version"]), fp, schema_json, parsed, _shape(schema_json))


SCHEMA_DIR = files("recorder") / "schemas" / "api_event"
#: Every published version, oldest first.
PUBLISHED: tuple[Published, ...] = tuple(
    sorted(
        (
            _load(f.read_text(encoding="utf-8"))
            for f in SCHEMA_DIR.iterdir()
            if f.name.endswith(".avsc")
        ),
        key=lambda p: p.version,
    )
)
BY_VERSION: Mapping[int, Published] = {p.version: p for p in PUBLISHED}
BY_FINGERPRINT: Mapping[bytes, Published] = {p.fingerprint: p for p in PUBLISHED}
CURRENT: Published = PUBLISHED[-1]

SCHEMA_JSON: Mapping[str, Any] = CURRENT.schema_json
PARSED_SCHEMA: Mapping[str, Any] = CURRENT.parsed
FINGERPRINT: bytes = CURRENT.fingerprint
API_EVENT: Shape = CURRENT.shape
#: Top-level member names in the order a log file shows them.
FIELD_ORDER: tuple[str, ...] = tuple(name for name, _ in API_EVENT.members)
