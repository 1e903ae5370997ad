"""CloudTrail's request/response elements turned back into botocore values.

To replay a record AWS wrote, its ``requestParameters`` become the operation's input
and its ``responseElements`` the stubbed answer. Names are matched to the model's
members without regard to case or CloudTrail's spellings (S3's XML element names,
EC2's ``...Set``/``items`` wrapping, ``bucketName``), so that a difference in how the
hook *writes* a name still shows in the comparison: the replay is forgiving, the
comparison is not. What cannot be placed in the model is left out, and members the
operation requires but the record does not carry get a placeholder.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
from typing import Any

from botocore.model import Shape

from recorder.events.conventions import DYNAMODB_TRANSACTIONS
from recorder.producer.shapes import Style, member_name

#: The element date forms CloudTrail writes (``Oct 2, 2019 11:12:29 PM``, newer
#: records with a comma after the year), then ISO 8601.
_DATE_FORMS = ("%b %d, %Y %I:%M:%S %p", "%b %d, %Y, %I:%M:%S %p")
_PLACEHOLDER_TIME = dt.datetime(2019, 10, 2, 23, 12, 29, tzinfo=dt.UTC)
_SUFFIXES = ("set", "list", "ids", "id", "arns", "arn", "names", "name", "es", "s")


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _stems(name: str) -> set[str]:
    """Spellings a member may have in a record: ``InstanceIds`` ~ ``instancesSet``."""
    out = {_norm(name)}
    for _ in range(3):
        for s in list(out):
            for suffix in _SUFFIXES:
                if s.endswith(suffix) and len(s) > len(suffix) + 1:
                    out.add(s[: -len(suffix)])
    return out


def _member_for(key: str, members: dict[str, Shape]) -> str | None:
    """The model member a record key stands for, most specific match first."""
    if key in members:
        return key
    low = _norm(key)
    by_name = {_norm(n): n for n in members}
    if low in by_name:
        return by_name[low]
    for n, m in members.items():
        wire = m.serialization.get("name") or m.serialization.get("queryName")
        if wire and _norm(wire) == low:
            return n
    aliases = {"bucketname": "Bucket", "host": None}
    if low in aliases:
        alias = aliases[low]
        return alias if alias in members else None
    stems = _stems(key)
    for n, m in members.items():
        names = [n, m.serialization.get("name") or "", m.serialization.get("queryName") or ""]
        if any(stems & _stems(x) for x in names if x):
            return n
    return None


def to_value(
    value: Any,
    shape: Shape | None,
    *,
    request: bool = True,
    style: Style | None = None,
    top: bool = True,
) -> Any:
    """``value`` as written in a record, as the botocore value of ``shape``; ``style``
    (how the hook writes this call's names) is tried before looser spellings."""
    if shape is None:
        return value
    kind = shape.type_name
    if kind == "structure":
        return _structure(value, shape, request=request, style=style, top=top)
    if kind == "list":
        return _list(value, shape, request=request, style=style)
    if kind == "map":
        return _map(value, shape, request=request, style=style)
    return _scalar(value, shape)


def _unwrap(value: Any) -> Any:
    """EC2's ``{"items": [...]}`` and XML's single-element lists."""
    if isinstance(value, dict) and len(value) == 1:
        (k,) = value
        if k in ("items", "item", "member", "Item", "Member"):
            return value[k]
    return value


def _structure(
    value: Any, shape: Shape, *, request: bool, style: Style | None = None, top: bool = False
) -> Any:
    value = _unwrap(value)
    if shape.metadata.get("document"):
        return value
    members = shape.members
    if not isinstance(value, dict):
        if shape.is_tagged_union and not isinstance(value, list | dict):
            # DynamoDB writes {"S": "x"} as "x"
            kind = {bool: "BOOL", int: "N", float: "N"}.get(type(value), "S")
            if kind in members:
                return {kind: value if kind != "N" else str(value)}
        if len(members) == 1:  # {"instanceId": ...} written as its one value, or vice versa
            (name,) = members
            return {name: to_value(value, members[name], request=request, style=style, top=False)}
        return placeholder(shape)
    op = value.get("operation") if isinstance(value, dict) else None
    if shape.name in DYNAMODB_TRANSACTIONS.value and isinstance(op, str) and op in members:
        # DynamoDB's flat transaction action: {"operation": "Put", ...} -> {"Put": {...}}
        rest = {k: v for k, v in value.items() if k != "operation"}
        if "items" in rest:
            rest["item"] = rest.pop("items")
        return {op: to_value(rest, members[op], request=request, style=style, top=False)}
    if top and style is not None and style.request and style.item_set is not None:
        held = value.get(style.item_set[0])
        items = _unwrap(held) if isinstance(held, dict) else None
        if isinstance(items, list) and items and isinstance(items[0], dict):
            value = {**{k: v for k, v in value.items() if k != style.item_set[0]}, **items[0]}
    forward: dict[str, str] = {}
    if style is not None:
        payload = shape.serialization.get("payload") if top else None
        for n, m in members.items():
            written = member_name(n, m, style, top=top)
            if n == payload:
                written = m.serialization.get("name") or n
            forward.setdefault(written, n)
    out: dict[str, Any] = {}
    required = set(shape.required_members)
    for key, v in value.items():
        if v == [""]:
            continue  # S3's subresource flag (``"acl": [""]``), not a member
        name = forward.get(str(key)) or _member_for(str(key), members)
        if name is None or name in out or v is None:
            continue
        if v == "" and name in required:
            continue  # a guide's elided value: the placeholder below stands in
        out[name] = to_value(v, members[name], request=request, style=style, top=False)
    if shape.is_tagged_union and len(out) > 1:
        out = dict([next(iter(out.items()))])
    for name in shape.required_members:
        if name not in out:
            out[name] = placeholder(members[name], name=name)
    return out


def _list(value: Any, shape: Shape, *, request: bool, style: Style | None = None) -> list[Any]:
    value = _unwrap(value)
    item_name = shape.member.serialization.get("name")
    if isinstance(value, dict) and item_name and set(value) == {item_name}:
        value = value[item_name]  # XML: the list's items under their element name
    if isinstance(value, dict) and value == {}:
        return []
    if not isinstance(value, list):
        value = [value]
    item = shape.member
    out = []
    for v in value:
        if item.type_name != "structure" and isinstance(v, dict) and len(v) == 1:
            (v,) = v.values()  # EC2 writes scalar list items as {"instanceId": "i-..."}
        out.append(to_value(v, item, request=request, style=style, top=False))
    lo = int(shape.metadata.get("min", 0) or 0)
    out += [placeholder(item) for _ in range(lo - len(out))]
    return out


def _map(value: Any, shape: Shape, *, request: bool, style: Style | None = None) -> dict[str, Any]:
    value = _unwrap(value)
    if isinstance(value, list):
        # DynamoDB's records name an item's attributes, not their values
        if all(isinstance(v, str) for v in value):
            return {v: placeholder(shape.value) for v in value}
        out: dict[str, Any] = {}
        for entry in value:  # [{"key": k, "value": v}] (EC2 and XML maps)
            if isinstance(entry, dict):
                k = next((entry[x] for x in entry if x.lower() in ("key", "name")), None)
                v = next((entry[x] for x in entry if x.lower() == "value"), None)
                if k is not None:
                    out[str(k)] = to_value(v, shape.value)
        return out
    if not isinstance(value, dict):
        return {}
    return {
        str(k): to_value(v, shape.value, request=request, style=style, top=False)
        for k, v in value.items()
    }


def _scalar(value: Any, shape: Shape) -> Any:
    kind = shape.type_name
    if isinstance(value, list | dict):
        if kind == "string":
            return json.dumps(value)
        return placeholder(shape)
    if kind == "string":
        text = "" if value is None else (value if isinstance(value, str) else json.dumps(value))
        if shape.enum and text not in shape.enum:
            lowered = {e.lower(): e for e in shape.enum}
            text = lowered.get(text.lower(), text)
        return _fit(text, shape)
    if kind in ("integer", "long", "float", "double"):
        number = int if kind in ("integer", "long") else float
        try:
            n = number(value)
        except (TypeError, ValueError):
            return placeholder(shape)
        lo = shape.metadata.get("min")
        return number(lo) if lo is not None and n < lo else n
    if kind == "boolean":
        if isinstance(value, str):
            return value.lower() == "true"
        return bool(value)
    if kind == "timestamp":
        return parse_time(value) or _PLACEHOLDER_TIME
    if kind == "blob":
        if isinstance(value, str):
            try:
                return base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                return value.encode()
        return b"blob"
    return value


def _fit(text: str, shape: Shape) -> str:
    lo = int(shape.metadata.get("min", 0) or 0)
    if shape.serialization.get("hostLabel"):
        lo = max(lo, 1)
    return text + "x" * (lo - len(text)) if len(text) < lo else text


def parse_time(value: Any) -> dt.datetime | None:
    """A date as CloudTrail writes one in elements: its own form, ISO 8601, or epoch
    seconds/milliseconds (EC2)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if value > 10**11 else value
        return dt.datetime.fromtimestamp(seconds, dt.UTC)
    if not isinstance(value, str):
        return None
    for form in _DATE_FORMS:
        try:
            return dt.datetime.strptime(value, form).replace(tzinfo=dt.UTC)
        except ValueError:
            pass
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def placeholder(shape: Shape, *, name: str = "value", depth: int = 0) -> Any:
    """The smallest valid value of ``shape``: required members only, one list item."""
    kind = shape.type_name
    if kind == "structure":
        if shape.metadata.get("document"):
            return {}
        members = shape.members
        if shape.is_tagged_union:
            first = next(iter(members))
            return {first: placeholder(members[first], name=first, depth=depth + 1)}
        return {n: placeholder(members[n], name=n, depth=depth + 1) for n in shape.required_members}
    if kind == "list":
        n = int(shape.metadata.get("min", 0) or 0)
        return [placeholder(shape.member, name=name, depth=depth + 1) for _ in range(n)]
    if kind == "map":
        return {}
    if kind == "string":
        if shape.enum:
            return shape.enum[0]
        text = re.sub(r"[^a-z0-9]", "", name.lower()) or "value"
        return _fit(text, shape)
    if kind in ("integer", "long"):
        lo = shape.metadata.get("min")
        return int(lo) if lo is not None and lo > 1 else 1
    if kind in ("float", "double"):
        return 1.0
    if kind == "boolean":
        return False
    if kind == "timestamp":
        return _PLACEHOLDER_TIME
    if kind == "blob":
        return b"blob"
    return None
