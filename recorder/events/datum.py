"""CloudTrail JSON object <-> Avro datum, following the shapes in ``schema``.

The typed fields hold a member only when its value has the field's type. Everything
else (members the schema does not name, and named members that are JSON null or of
another type) goes, at the level where it occurs, into that record's ``extra`` JSON
object. That single rule makes the mapping total over JSON objects, so encode never
loses a member and never has to judge a record: judging is ``validate``'s job.

Free-form members (``requestParameters`` ...) are JSON text; a present JSON null is the
text ``null`` and an absent member is Avro null, so the two stay apart.

Decoding rebuilds each object in schema order, which is the order CloudTrail writes,
so ``render_record`` has nothing to do for a decoded record.
"""

from __future__ import annotations

from typing import Any

import orjson

from recorder.events.errors import EventDecodeError, InvalidEventError, show
from recorder.events.schema import BOOLEAN, EXTRA, JSON, STRING, ListOf, Shape

# Refuse what orjson would otherwise quietly turn into a string: such a value would not
# come back as itself, and a record that is not JSON is a bug upstream worth hearing of.
_DUMPS_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def _json_text(value: Any, where: str) -> str:
    try:
        return orjson.dumps(value, option=_DUMPS_OPTIONS).decode()
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


def _loads(text: str, where: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise EventDecodeError("corrupt", f"corrupt body: {where} is not JSON ({exc})") from None


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
            out[name] = _loads(value, path + name)
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


def merge_extra(
    out: dict[str, Any], text: str, shape: Shape, path: str, extras: list[str] | None
) -> dict[str, Any]:
    """``out`` with the members of one level's ``extra`` JSON object added: a named
    member that came back from ``extra`` (it was null or of another type) takes its
    schema place, the others follow in their own order."""
    if extras is not None:
        extras.append(path)
    extra = _loads(text, path + EXTRA)
    if not isinstance(extra, dict):
        raise EventDecodeError("corrupt", f"corrupt body: {path}{EXTRA} is not a JSON object")
    known = False
    for name, value in extra.items():
        if name in out:
            raise EventDecodeError(
                "corrupt", f"corrupt body: {path}{name} is both a field and in {path}{EXTRA}"
            )
        known = known or name in shape.kinds
        out[name] = value
    if known:  # a named member came back from extra: put it in its place
        order = [name for name, _ in shape.members if name in out]
        order += [name for name in out if name not in shape.kinds]
        out = {name: out[name] for name in order}
    return out
