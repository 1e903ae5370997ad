"""The mapping between records and Avro datums as fastavro sees it: the reference the
compiled reader and writer (``recorder.events.reader``/``writer``) are held to.

``to_datum`` then fastavro's ``schemaless_writer`` is what ``encode`` did before it was
compiled; fastavro's ``schemaless_reader`` then ``from_datum`` is what ``decode`` did.
"""

from __future__ import annotations

from io import BytesIO
from typing import Any

import orjson
from fastavro import schemaless_reader, schemaless_writer

from recorder.events.codec import HEADER_SIZE, MAGIC
from recorder.events.datum import DUMPS_OPTIONS, loads, merge_extra
from recorder.events.errors import InvalidEventError, show
from recorder.events.schema import BOOLEAN, EXTRA, JSON, STRING, ListOf, Published, Shape


def _json_text(value: Any, where: str) -> str:
    try:
        return orjson.dumps(value, option=DUMPS_OPTIONS).decode()
    except orjson.JSONEncodeError as exc:
        raise InvalidEventError(where, f"not JSON-serialisable: {exc}") from None


def _list_of_objects(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, dict) for item in value)


def to_datum(obj: dict[str, Any], shape: Shape, path: str = "") -> dict[str, Any]:
    datum: dict[str, Any] = {}
    extra: dict[str, Any] | None = None
    kinds = shape.kinds
    for name, value in obj.items():
        kind = kinds.get(name)
        if kind is STRING:
            if isinstance(value, str):
                datum[name] = value
                continue
        elif kind is JSON:
            datum[name] = _json_text(value, path + name)
            continue
        elif kind is BOOLEAN:
            if isinstance(value, bool):
                datum[name] = value
                continue
        elif isinstance(kind, Shape):
            if isinstance(value, dict):
                datum[name] = to_datum(value, kind, f"{path}{name}.")
                continue
        elif isinstance(kind, ListOf) and _list_of_objects(value):
            item = kind.item
            datum[name] = [to_datum(v, item, f"{path}{name}[{i}].") for i, v in enumerate(value)]
            continue
        if extra is None:
            extra = {}
        extra[name] = value
    for name in shape.required:
        if name not in datum:
            got = "absent" if name not in obj else f"got {show(obj[name])}"
            raise InvalidEventError(path + name, f"the wire schema needs a string ({got})")
    if extra:
        datum[EXTRA] = _json_text(extra, path + EXTRA)
    return datum


def from_datum(
    datum: dict[str, Any], shape: Shape, path: str = "", extras: list[str] | None = None
) -> dict[str, Any]:
    """The CloudTrail object of a datum. ``extras``, when given, collects the path of
    each level that had members in ``extra``: where there is none, every named member
    has its schema type, which spares ``validate`` the walk over the types."""
    out: dict[str, Any] = {}
    for name, kind in shape.members:
        value = datum[name]
        if value is None:
            continue
        if kind is STRING or kind is BOOLEAN:
            out[name] = value
        elif kind is JSON:
            out[name] = loads(value, path + name)
        elif isinstance(kind, Shape):
            out[name] = from_datum(value, kind, f"{path}{name}.", extras)
        elif isinstance(kind, ListOf):
            item = kind.item
            out[name] = [
                from_datum(v, item, f"{path}{name}[{i}].", extras) for i, v in enumerate(value)
            ]
    text = datum[EXTRA]
    if text is None:
        return out
    return merge_extra(out, text, shape, path, extras)


def fastavro_encode(record: dict[str, Any], published: Published) -> bytes:
    """What ``encode`` wrote when it went through ``to_datum`` and fastavro."""
    out = BytesIO()
    out.write(MAGIC + published.fingerprint)
    try:
        schemaless_writer(out, published.parsed, to_datum(record, published.shape))
    except UnicodeEncodeError as exc:
        raise InvalidEventError("record", f"a string is not valid Unicode ({exc.reason})") from None
    return out.getvalue()


def fastavro_decode(data: bytes, published: Published) -> tuple[dict[str, Any], bool]:
    """What ``decode_typed`` returned when it read through fastavro."""
    body = BytesIO(data)
    body.seek(HEADER_SIZE)
    datum = schemaless_reader(body, published.parsed, None)
    if body.tell() != len(data):
        raise ValueError("bytes left")
    extras: list[str] = []
    return from_datum(datum, published.shape, extras=extras), not extras
