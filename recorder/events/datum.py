"""The rule between a CloudTrail object and its Avro datum, which ``reader`` and
``writer`` compile per schema.

The typed fields hold a member only when its value has the field's type. Everything
else (members the schema does not name, and named members that are JSON null or of
another type) goes, at the level where it occurs, into that record's ``extra`` JSON
object. That single rule makes the mapping total over JSON objects, so encode never
loses a member and never has to judge a record: judging is ``validate``'s job.

Free-form members (``requestParameters`` ...) are JSON text; a present JSON null is the
text ``null`` and an absent member is Avro null, so the two stay apart.

Decoding rebuilds each object in schema order, which is the order CloudTrail writes,
so ``render_record`` has nothing to do for a decoded record.

The same rule written plainly over fastavro's datums (``to_datum``/``from_datum``) is
the reference the tests hold the compiled pair to (``tests/unit/events/reference.py``).
"""

from __future__ import annotations

from typing import Any

import orjson

from recorder.events.errors import EventDecodeError, InvalidEventError
from recorder.events.schema import EXTRA, Shape

# Refuse what orjson would otherwise quietly turn into a string: such a value would not
# come back as itself, and a record that is not JSON is a bug upstream worth hearing of.
DUMPS_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def json_bytes(value: Any, where: str) -> bytes:
    """A free-form member (or an ``extra`` object) as the JSON text the wire carries."""
    try:
        return orjson.dumps(value, option=DUMPS_OPTIONS)
    except orjson.JSONEncodeError as exc:
        raise InvalidEventError(where, f"not JSON-serialisable: {exc}") from None


def loads(text: str | bytes, where: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise EventDecodeError("corrupt", f"corrupt body: {where} is not JSON ({exc})") from None


def merge_extra(
    out: dict[str, Any], text: str, shape: Shape, path: str, extras: list[str] | None
) -> dict[str, Any]:
    """``out`` with the members of one level's ``extra`` JSON object added: a named
    member that came back from ``extra`` (it was null or of another type) takes its
    schema place, the others follow in their own order."""
    if extras is not None:
        extras.append(path)
    extra = loads(text, path + EXTRA)
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
