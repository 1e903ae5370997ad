"""A writer compiled from each published schema: the CloudTrail record straight to Avro.

The twin of ``reader``, for the same reason: ``to_datum`` and fastavro's
``schemaless_writer`` took about 38 µs a record, paid by every producer on its sink's
thread (beside the caller's, under the same GIL) and by the load test's generators.
Knowing the schema in advance, one generated function per record type sorts the
record's members into their fields and writes the bytes in one pass.

The bytes are exactly fastavro's for the datum that ``datum``'s rule gives: a member
goes to its typed field when its value has the field's type, and everything else
(unknown members, null or mistyped named ones) into that level's ``extra`` JSON
object, in the record's own order. The tests hold the two to byte equality on
generated records of every published version (``tests/unit/events/reference.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

from recorder.events.datum import json_bytes
from recorder.events.errors import InvalidEventError, show
from recorder.events.schema import BOOLEAN, BY_VERSION, EXTRA, JSON, STRING, ListOf, Shape

#: ``writer(record, out, path)`` appends the Avro body of ``record`` to ``out``.
Writer = Callable[[Mapping[str, Any], bytearray, str], None]

_MISSING = object()
#: Member kinds as the generated sorting loop compares them.
_STRING, _BOOLEAN, _JSON, _RECORD, _LIST = range(5)


def _varint(n: int) -> bytes:
    """An unsigned varint of ``n`` (already zig-zag encoded), two bytes or more."""
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _not_unicode(exc: UnicodeEncodeError) -> InvalidEventError:
    return InvalidEventError("record", f"a string is not valid Unicode ({exc.reason})")


def _required(obj: Mapping[str, Any], name: str, where: str) -> InvalidEventError:
    got = "absent" if name not in obj else f"got {show(obj[name])}"
    return InvalidEventError(where, f"the wire schema needs a string ({got})")


def _list_of_objects(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, dict) for item in value)


_HELPERS: dict[str, Any] = {
    "_MISSING": _MISSING,
    "_varint": _varint,
    "_json": json_bytes,
    "_not_unicode": _not_unicode,
    "_required": _required,
    "_list_of_objects": _list_of_objects,
    "_dict": dict,
    "_str": str,
    "_bool": bool,
}


class _Compiler:
    """Writes one function per record type of a schema (``schema_json``, not parsed)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.count = 0
        self.namespace: dict[str, Any] = dict(_HELPERS)

    def record(self, schema: Mapping[str, Any], shape: Shape) -> str:
        name = f"_write_{schema['name']}_{self.count}"
        self.count += 1
        slots: dict[str, tuple[int, int]] = {}
        for index, (member, kind) in enumerate(shape.members):
            code = (
                _STRING
                if kind is STRING
                else _BOOLEAN
                if kind is BOOLEAN
                else _JSON
                if kind is JSON
                else _LIST
                if isinstance(kind, ListOf)
                else _RECORD
            )
            slots[member] = (index, code)
        self.namespace[f"{name}_slots"] = slots
        body = [
            # Sort the members as to_datum does: typed field, or extra in record order.
            f"values = [_MISSING] * {len(shape.members)}",
            "extra = None",
            "for member, value in obj.items():",
            f"    slot = {name}_slots.get(member)",
            "    if slot is not None:",
            "        index, code = slot",
            f"        if (code == {_JSON}",
            f"                or (code == {_STRING} and isinstance(value, _str))",
            f"                or (code == {_BOOLEAN} and isinstance(value, _bool))",
            f"                or (code == {_RECORD} and isinstance(value, _dict))",
            f"                or (code == {_LIST} and _list_of_objects(value))):",
            "            values[index] = value",
            "            continue",
            "    if extra is None:",
            "        extra = {}",
            "    extra[member] = value",
        ]
        index_of = {member: i for i, (member, _) in enumerate(shape.members)}
        for field in shape.required:
            body += [
                f"if values[{index_of[field]}] is _MISSING:",
                f"    raise _required(obj, {field!r}, path + {field!r})",
            ]
        for field in schema["fields"]:
            field_name: str = field["name"]
            avro_type = field["type"]
            if field_name == EXTRA:
                value_lines = [
                    "if extra is None:",
                    "    out.append(0)",
                    "else:",
                    "    out.append(2)",
                    f"    data = _json(extra, path + {EXTRA!r})",
                    *["    " + line for line in self.length_prefixed("data")],
                ]
                body += value_lines
                continue
            body.append(f"value = values[{index_of[field_name]}]")
            if isinstance(avro_type, list):
                if avro_type != ["null", avro_type[1]]:
                    raise ValueError(f"ApiEvent schema: unsupported union {avro_type!r}")
                inner = self.value(field_name, avro_type[1], shape)
                body += [
                    "if value is _MISSING:",
                    "    out.append(0)",
                    "else:",
                    "    out.append(2)",
                    *["    " + line for line in inner],
                ]
            else:
                body += self.value(field_name, avro_type, shape)
        self.lines.append(f"def {name}(obj, out, path=''):")
        self.lines += ["    " + line for line in body]
        self.lines.append("")
        return name

    @staticmethod
    def length_prefixed(var: str) -> list[str]:
        return [
            f"n = len({var}) << 1",
            "if n < 0x80:",
            "    out.append(n)",
            "else:",
            "    out += _varint(n)",
            f"out += {var}",
        ]

    def value(self, field_name: str, avro_type: Any, shape: Shape) -> list[str]:
        """Lines that write ``value`` (of member ``field_name``) as ``avro_type``."""
        kind = shape.kinds[field_name]
        if kind is STRING:
            return [
                "try:",
                "    data = value.encode()",
                "except UnicodeEncodeError as exc:",
                "    raise _not_unicode(exc) from None",
                *self.length_prefixed("data"),
            ]
        if kind is JSON:
            return [f"data = _json(value, path + {field_name!r})", *self.length_prefixed("data")]
        if kind is BOOLEAN:
            return ["out.append(1 if value else 0)"]
        if isinstance(kind, Shape):
            writer = self.record(avro_type, kind)
            return [f"{writer}(value, out, path + {field_name + '.'!r})"]
        writer = self.record(avro_type["items"], kind.item)
        return [
            "if value:",
            "    n = len(value) << 1",
            "    out += bytes((n,)) if n < 0x80 else _varint(n)",
            "    for i, item in enumerate(value):",
            f"        {writer}(item, out, f'{{path}}{field_name}[{{i}}].')",
            "out.append(0)",
        ]


def compile_writer(schema_json: Mapping[str, Any], shape: Shape) -> Writer:
    """The writer of one schema, as Python source compiled once."""
    compiler = _Compiler()
    top = compiler.record(schema_json, shape)
    source = "\n".join(compiler.lines)
    code = compile(source, f"<recorder.events.writer {schema_json['name']}>", "exec")
    exec(code, compiler.namespace)
    writer: Writer = compiler.namespace[top]
    return writer


@cache
def writer_for(version: int) -> Writer:
    """The compiled writer of a published version, made on its first record."""
    published = BY_VERSION[version]
    return compile_writer(published.schema_json, published.shape)
