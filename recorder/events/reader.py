"""A reader compiled from each published schema: Avro body bytes straight to the record.

Why not fastavro's ``schemaless_reader``: it reads through a file object, one
``fo.read(1)`` call per varint byte, and builds a datum that a second pass (``from_datum``)
then walks to drop nulls and parse the JSON members. For our records (about 430 bytes,
157 fields in 22 record types, most of them null) that was 25 µs a record, half of the
router's CPU. Knowing the schema in advance, the reader is one generated function per
record type that indexes the bytes and builds the CloudTrail object in the same pass:
a null member is one byte compared, a string one slice decoded.

The result is exactly what that two-pass decode gives (the tests keep it as their
reference, ``tests/unit/events/reference.py``, and hold this reader to it on generated
records of every published version and on damaged bytes): the same members in the same
order, the same ``extra`` rule (``datum.merge_extra``), the same errors for a JSON member
that is not JSON. fastavro still parses the schemas and computes their fingerprints.

Malformed bytes raise ``EventDecodeError`` (``corrupt``) from here; running off the end
of the body raises ``Truncated`` for the codec to report with the body's size.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

import orjson

from recorder.events.datum import merge_extra
from recorder.events.errors import EventDecodeError
from recorder.events.schema import BOOLEAN, BY_FINGERPRINT, EXTRA, JSON, STRING, Shape

#: ``reader(body, position, extras)`` -> (record, position after it).
Reader = Callable[[bytes, int, list[str]], tuple[dict[str, Any], int]]


class Truncated(Exception):
    """The body ends inside a value (a ``bytes`` index past the end is one too)."""


def _corrupt(detail: str) -> EventDecodeError:
    return EventDecodeError("corrupt", f"corrupt body: {detail}")


def _long(data: bytes, pos: int, first: int) -> tuple[int, int]:
    """The rest of a varint whose first byte (>= 0x80) was ``first``: its zig-zag
    encoded value, unsigned, and the position after it."""
    n = first & 0x7F
    shift = 7
    while True:
        b = data[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        if b < 0x80:
            return n, pos
        shift += 7
        if shift > 63:
            raise _corrupt("a varint longer than 10 bytes")


def _bad_union(first: int, where: str, branches: int) -> EventDecodeError:
    index = (first >> 1) ^ -(first & 1) if first < 0x80 else "over 63"
    return _corrupt(
        f"IndexError: union index {index} at {where} (the union has {branches} branches)"
    )


def _bad_length(n: int, where: str) -> EventDecodeError:
    return _corrupt(f"negative length {-(n >> 1) - 1} at {where}")


def _bad_text(exc: UnicodeDecodeError, where: str) -> EventDecodeError:
    return _corrupt(f"UnicodeDecodeError: {where} is not UTF-8 ({exc.reason})")


def _not_json(exc: Exception, where: str) -> EventDecodeError:
    return _corrupt(f"{where} is not JSON ({exc})")


def _read_long(data: bytes, pos: int) -> tuple[int, int]:
    b = data[pos]
    pos += 1
    if b > 0x7F:
        b, pos = _long(data, pos, b)
    return (b >> 1) ^ -(b & 1), pos


_HELPERS: dict[str, Any] = {
    "_long": _long,
    "_read_long": _read_long,
    "_bad_union": _bad_union,
    "_bad_length": _bad_length,
    "_bad_text": _bad_text,
    "_not_json": _not_json,
    "_Truncated": Truncated,
    "_loads": orjson.loads,
    "_JSONDecodeError": orjson.JSONDecodeError,
    "_merge_extra": merge_extra,
}


class _Compiler:
    """Writes one function per record type of a schema (``schema_json``, not parsed)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.count = 0
        self.namespace: dict[str, Any] = dict(_HELPERS)

    def record(self, schema: Mapping[str, Any], shape: Shape) -> str:
        name = f"_read_{schema['name']}_{self.count}"
        self.count += 1
        self.namespace[f"{name}_shape"] = shape
        body: list[str] = ["out = {}", "size = len(data)"]
        has_extra = False
        for field in schema["fields"]:
            field_name: str = field["name"]
            avro_type = field["type"]
            where = f"path + {field_name!r}"
            if isinstance(avro_type, list):
                if len(avro_type) != 2 or "null" not in avro_type:
                    raise ValueError(f"ApiEvent schema: unsupported union {avro_type!r}")
                null_first = avro_type[0] == "null"
                (value_type,) = (t for t in avro_type if t != "null")
                present = "2" if null_first else "0"
                absent = "0" if null_first else "2"
                body += [
                    "b = data[pos]",
                    "pos += 1",
                    f"if b == {present}:",
                ]
                inner = self.value(field_name, value_type, where, shape)
                body += ["    " + line for line in inner]
                body += [f"elif b != {absent}:", f"    raise _bad_union(b, {where}, 2)"]
                if field_name == EXTRA:
                    has_extra = True
            else:
                body += self.value(field_name, avro_type, where, shape)
        if has_extra:
            body += [
                f"if {EXTRA!r} in out:",
                f"    out = _merge_extra(out, out.pop({EXTRA!r}), {name}_shape, path, extras)",
            ]
        body.append("return out, pos")
        self.lines.append(f"def {name}(data, pos, extras, path=''):")
        self.lines += ["    " + line for line in body]
        self.lines.append("")
        return name

    def value(self, field_name: str, avro_type: Any, where: str, shape: Shape) -> list[str]:
        """Lines that read one value of ``avro_type`` at ``pos`` into ``out[field_name]``."""
        target = f"out[{field_name!r}]"
        kind = shape.kinds.get(field_name) if field_name != EXTRA else STRING
        if kind is STRING or kind is JSON:
            lines = [
                "n = data[pos]",
                "pos += 1",
                "if n > 0x7F:",
                "    n, pos = _long(data, pos, n)",
                "if n & 1:",
                f"    raise _bad_length(n, {where})",
                "end = pos + (n >> 1)",
                "if end > size:",
                "    raise _Truncated",
            ]
            if kind is JSON:  # orjson checks the UTF-8 as it parses
                lines += [
                    "try:",
                    f"    {target} = _loads(data[pos:end])",
                    "except _JSONDecodeError as exc:",
                    f"    raise _not_json(exc, {where}) from None",
                ]
            else:
                lines += [
                    "try:",
                    f"    {target} = data[pos:end].decode()",
                    "except UnicodeDecodeError as exc:",
                    f"    raise _bad_text(exc, {where}) from None",
                ]
            return [*lines, "pos = end"]
        if kind is BOOLEAN:
            # fastavro's rule: any byte but 0 is true
            return [f"{target} = data[pos] != 0", "pos += 1"]
        if isinstance(kind, Shape):
            reader = self.record(avro_type, kind)
            return [f"{target}, pos = {reader}(data, pos, extras, path + {field_name + '.'!r})"]
        if kind is not None and avro_type.get("type") == "array":
            reader = self.record(avro_type["items"], kind.item)  # type: ignore[union-attr]
            return [
                "items = []",
                "while True:",
                "    count, pos = _read_long(data, pos)",
                "    if count == 0:",
                "        break",
                "    if count < 0:  # a block with its size in bytes",
                "        count = -count",
                "        _, pos = _read_long(data, pos)",
                "    for _ in range(count):",
                f"        item, pos = {reader}(data, pos, extras, "
                f"f'{{path}}{field_name}[{{len(items)}}].')",
                "        items.append(item)",
                f"{target} = items",
            ]
        raise ValueError(f"ApiEvent schema: no reader for {field_name}: {avro_type!r}")


def compile_reader(schema_json: Mapping[str, Any], shape: Shape) -> Reader:
    """The reader of one schema, as Python source compiled once."""
    compiler = _Compiler()
    top = compiler.record(schema_json, shape)
    source = "\n".join(compiler.lines)
    exec(
        compile(source, f"<recorder.events.reader {schema_json['name']}>", "exec"),
        compiler.namespace,
    )
    reader: Reader = compiler.namespace[top]
    return reader


@cache
def reader_for(fingerprint: bytes) -> Reader:
    """The compiled reader of a published version, made on its first record."""
    published = BY_FINGERPRINT[fingerprint]
    return compile_reader(published.schema_json, published.shape)
