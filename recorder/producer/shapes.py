"""Turn botocore parameters and responses into CloudTrail's request/response elements.

The shape of each member comes from the botocore model; how CloudTrail writes it
comes from the conventions table (:mod:`recorder.events.conventions`), gathered here
into one :class:`Style` per call:

* names: the model's name with its first letter lowered (``AZMode`` -> ``aZMode``),
  Java bean names (``AWSAccountId`` kept), or the wire names as they are; map keys are
  the caller's data and are never respelled;
* EC2 (protocol ``ec2``) writes its own XML names, lists as ``{"items": [...]}`` (an
  empty list as ``{}``), ``return`` as ``_return`` and dates as epoch milliseconds;
* S3 (``rest-xml``) keeps the request body's XML element names and the header names;
* DynamoDB writes attribute values as plain values and an item by its attribute names;
* sensitive members are ``HIDDEN_DUE_TO_SECURITY_REASONS``; binary members (bodies,
  ciphertext, plaintext) and streams are never logged, except where a service writes
  the Java ``ByteBuffer`` it received (ACM); members a service never logs are left out.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.model import Shape

from recorder.events import conventions as cv

HIDDEN = "HIDDEN_DUE_TO_SECURITY_REASONS"

_SENSITIVE_NAMES = frozenset(
    {
        "password",
        "newpassword",
        "oldpassword",
        "secretstring",
        "secretbinary",
        "secretaccesskey",
        "privatekey",
        "plaintext",
        "clientsecret",
        "authparameters",
    }
)
_NONE: frozenset[str] = frozenset()
#: What a member that is never logged renders as (dropped by its parent).
_OMIT: Any = object()

#: S3 uses its own element names for its path members (guide data-event examples).
_S3_NAMES = {"Bucket": "bucketName", "Key": "key"}
_S3_XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"
#: DynamoDB's attribute value shape: written as the value it holds.
_ATTRIBUTE_VALUE = "AttributeValue"


@dataclass(frozen=True, slots=True)
class Style:
    """How one call's elements are written (see the module docstring)."""

    names: str = cv.FIRST_LOWER
    dates: str = cv.JAVA_DATE
    omit: frozenset[str] = _NONE
    blobs: str | None = None  # None: left out; "bytebuffer": the Java ByteBuffer
    ec2: bool = False
    s3: bool = False
    dynamodb: bool = False
    request: bool = True  # the request's elements (False: the response's)
    renames: Mapping[str, str] = field(default_factory=dict)
    unwrapped: bool = False  # the response is its result's one structure, unwrapped
    item_set: tuple[str, tuple[str, ...]] | None = None  # EC2: members written in one item
    hidden: str = HIDDEN  # what a sensitive member is written as


def style_for(event_source: str, event_name: str, protocol: str | None) -> Style:
    return Style(
        names=cv.name_style(event_source),
        dates=cv.date_form(event_source),
        omit=cv.never_logged(event_source, event_name),
        blobs=cv.blob_form(event_source),
        ec2=protocol == "ec2",
        s3=event_source in (cv.S3_SOURCE, cv.S3_OUTPOSTS.value),
        dynamodb=event_source == cv.DYNAMODB_SOURCE,
        renames=cv.member_names(event_source, event_name),
        unwrapped=event_source in cv.UNWRAPPED_RESPONSES,
        item_set=cv.EC2_ITEM_SETS.value.get(event_name) if protocol == "ec2" else None,
        hidden=cv.sensitive_mask(event_source, HIDDEN),
    )


def ec2_id_list(member: Shape) -> tuple[str, str] | None:
    """(set name, item name) of an EC2 request list of values; None for other members."""
    if member.type_name != "list" or member.member.type_name in ("structure", "list", "map"):
        return None
    query = member.serialization.get("name") or member.name
    known = cv.EC2_ID_LISTS.value.get(query)
    return known if known is not None else (camel(query) + "Set", camel(query))


def member_name(key: str, member: Shape | None, style: Style, *, top: bool = True) -> str:
    """The name CloudTrail writes for member ``key`` (of shape ``member``)."""
    if top and key in style.renames:
        return style.renames[key]
    if style.ec2 and style.request and member is not None:
        listed = ec2_id_list(member)
        if listed is not None:
            return listed[0]
        if member.type_name == "list":
            query = member.serialization.get("name") or ""
            named = cv.EC2_STRUCTURE_SETS.value.get(query[:1].upper() + query[1:])
            if named is not None:
                return named
    return _name(key, member, style, top)


def camel(name: str) -> str:
    """``first-lower``: lower the first letter only (``SSECustomerKey`` ->
    ``sSECustomerKey``), as CloudTrail's records spell the model's names."""
    return name[:1].lower() + name[1:]


def bean(name: str) -> str:
    """Java bean names: a name whose first two letters are capitals is kept."""
    if len(name) > 1 and name[0].isupper() and name[1].isupper():
        return name
    return camel(name)


def _name(key: str, member: Shape | None, style: Style, top: bool) -> str:
    wire = (member.serialization.get("name") if member is not None else None) or key
    if style.s3 and top:
        if key in _S3_NAMES:
            return _S3_NAMES[key]
        location = member.serialization.get("location") if member is not None else None
        return wire if location in ("header", "headers", "querystring") else camel(key)
    if style.ec2:
        if wire == "return":
            return "_return"
        return camel(wire)
    if style.names == cv.WIRE:
        return wire
    if style.names == cv.BEAN:
        return bean(key)
    return camel(key)


def render(value: Any, shape: Shape | None, style: Style) -> Any:
    """The element a top-level value becomes; None when nothing of it is logged."""
    out = elements(value, shape, style)
    return None if out is _OMIT else out


def elements(
    value: Any,
    shape: Shape | None,
    style: Style | None = None,
    *,
    top: bool = True,
    omit: frozenset[str] = _NONE,
) -> Any:
    """Render a parameter/response value as CloudTrail JSON, following its shape."""
    style = style or Style(omit=omit)
    if shape is not None and shape.serialization.get("eventstream"):
        return HIDDEN
    if shape is not None and shape.type_name == "blob":
        return _blob(value, shape, style)
    if shape is not None and shape.metadata.get("sensitive"):
        return style.hidden
    if style.dynamodb and shape is not None and shape.name == _ATTRIBUTE_VALUE:
        return _attribute_value(value)
    if (
        style.dynamodb
        and shape is not None
        and shape.name in cv.DYNAMODB_TRANSACTIONS.value
        and isinstance(value, Mapping)
        and len(value) == 1
    ):
        ((kind, action),) = value.items()
        inner = elements(action, shape.members.get(kind), style, top=False)
        if isinstance(inner, dict) and "item" in inner:
            inner["items"] = inner.pop("item")
        return {"operation": kind, **(inner if isinstance(inner, dict) else {})}
    if shape is not None and shape.type_name == "map":
        return _map(value, shape, style)
    if isinstance(value, dict):
        return _structure(value, shape, style, top)
    if isinstance(value, list | tuple):
        item = getattr(shape, "member", None)
        items = [elements(v, item, style, top=False) for v in value]
        items = [i for i in items if i is not _OMIT]
        if style.ec2 and not (style.request and getattr(item, "name", None) == "Tag"):
            return {"items": items} if items else {}
        return items
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, dt.datetime):
        return format_date(value, style.dates)
    if hasattr(value, "read"):
        return None
    return value


def _structure(value: Mapping[str, Any], shape: Shape | None, style: Style, top: bool) -> Any:
    members = getattr(shape, "members", None) or {}
    payload = shape.serialization.get("payload") if shape is not None and top else None
    out: dict[str, Any] = {}
    for k, v in value.items():
        if k == "ResponseMetadata" or k in style.omit or hasattr(v, "read"):
            continue
        member = members.get(k)
        if member is not None and (
            member.serialization.get("streaming") or member.metadata.get("streaming")
        ):
            continue  # payload bodies are never recorded
        if member is not None and member.type_name == "blob" and style.blobs is None:
            continue  # nor is binary data
        if style.s3 and k == payload and member is not None:
            out.update(_xml_payload(k, v, member, style))
            continue
        if style.dynamodb and k == "Item" and isinstance(v, Mapping):
            out[_name(k, member, style, top)] = list(v)  # an item is logged by its names
            continue
        key = member_name(str(k), member, style, top=top)
        if (member is None or member.type_name == "string") and str(k).replace(
            "_", ""
        ).lower() in _SENSITIVE_NAMES:
            out[key] = style.hidden
            continue
        listed = ec2_id_list(member) if style.ec2 and style.request and member else None
        if listed is not None and isinstance(v, list | tuple):
            items = [{listed[1]: elements(i, member.member, style, top=False)} for i in v]
            out[key] = {"items": items} if items else {}
            continue
        rendered = elements(v, member, style, top=False)
        if rendered is _OMIT:
            continue
        out[key] = rendered
    if style.ec2 and style.request:
        if top and style.item_set is not None:
            _ec2_item_set(out, value, members, style)
        elif not top and shape is not None and shape.name in cv.EC2_EMPTY_LISTS.value:
            for k, member in members.items():
                if member.type_name == "list" and k not in value and k not in style.omit:
                    out.setdefault(member_name(k, member, style, top=False), {})
    return out


def _ec2_item_set(
    out: dict[str, Any], value: Mapping[str, Any], members: Mapping[str, Shape], style: Style
) -> None:
    """EC2 writes some of a request's members in one item of a set (conventions
    ``EC2_ITEM_SETS``: RunInstances' image and counts in ``instancesSet``)."""
    assert style.item_set is not None
    set_name, names = style.item_set
    item = {}
    for k in names:
        if k in value:
            item[_name(k, members.get(k), style, False)] = out.pop(
                _name(k, members.get(k), style, True), value[k]
            )
    if item:
        out[set_name] = {"items": [item]}


def _map(value: Any, shape: Shape, style: Style) -> Any:
    """Map keys are the caller's data (tags, encryption context, attributes): kept."""
    if not isinstance(value, Mapping):
        return value
    return {str(k): elements(v, shape.value, style, top=False) for k, v in value.items()}


def _blob(value: Any, shape: Shape, style: Style) -> Any:
    if style.blobs != "bytebuffer":
        return _OMIT
    data = bytes(value) if isinstance(value, bytes | bytearray) else str(value).encode()
    sensitive = bool(shape.metadata.get("sensitive"))
    n = len(data)
    return {
        "hb": [HIDDEN] if sensitive else [b - 256 if b > 127 else b for b in data],
        "offset": 0,
        "isReadOnly": False,
        "bigEndian": True,
        "nativeByteOrder": False,
        "mark": -1,
        "position": 0,
        "limit": n,
        "capacity": n,
        "address": 0,
    }


def _attribute_value(value: Any) -> Any:
    """DynamoDB's ``{"S": "x"}`` as ``"x"``; maps and lists as their values."""
    if not isinstance(value, Mapping) or len(value) != 1:
        return _plain(value)
    ((kind, inner),) = value.items()
    if kind == "M" and isinstance(inner, Mapping):
        return {k: _attribute_value(v) for k, v in inner.items()}
    if kind == "L" and isinstance(inner, list):
        return [_attribute_value(v) for v in inner]
    return _plain(inner)


def _plain(value: Any) -> Any:
    """A value as JSON can hold it: binary as base64."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | set | tuple):
        return [_plain(v) for v in value]
    return value


def _xml_payload(key: str, value: Any, member: Shape, style: Style) -> dict[str, Any]:
    """S3's request body: the XML document under its element names, ``xmlns`` on the
    root (guide examples of PutBucketAcl: ``AccessControlPolicy``)."""
    root = member.serialization.get("name") or key
    if member.type_name != "structure" or not isinstance(value, Mapping):
        return {camel(key): elements(value, member, style, top=False)}
    body = _xml(value, member, style)
    if isinstance(body, dict):
        body["xmlns"] = member.serialization.get("xmlNamespace", {}).get("uri", _S3_XMLNS)
    return {root: body}


def _xml(value: Any, shape: Shape | None, style: Style) -> Any:
    """A value as XML turned into JSON: element names as written, a list's items under
    its item element name, one item as an object."""
    if shape is None:
        return value
    if shape.type_name == "structure" and isinstance(value, Mapping):
        out: dict[str, Any] = {}
        namespace = shape.serialization.get("xmlNamespace") or {}
        if namespace.get("prefix"):
            out[f"xmlns:{namespace['prefix']}"] = namespace.get("uri", "")
        for k, v in value.items():
            member = shape.members.get(k)
            if member is None:
                continue
            name = member.serialization.get("name") or k
            if member.type_name == "list" and isinstance(v, list):
                item_name = member.member.serialization.get("name") or "member"
                items = [_xml(i, member.member, style) for i in v]
                one = items[0] if len(items) == 1 else items
                if member.serialization.get("flattened"):
                    out[name] = one
                else:
                    out[name] = {item_name: one}
                continue
            out[name] = _xml(v, member, style)
        return out
    if isinstance(value, dt.datetime):
        return format_date(value, cv.ISO_DATE)
    if isinstance(value, bool):
        return str(value).lower()
    return value


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def format_date(value: dt.datetime, form: str) -> Any:
    """A timestamp member as the service writes it (conventions ``DATE_FORMS``)."""
    value = value.astimezone(dt.UTC) if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if form == cv.EPOCH_MILLIS:
        return int(value.timestamp() * 1000)
    if form == cv.ISO_DATE:
        return value.isoformat()
    hour = value.hour % 12 or 12
    half = "AM" if value.hour < 12 else "PM"
    comma = "," if form == cv.JAVA_COMMA_DATE else ""
    return (
        f"{_MONTHS[value.month - 1]} {value.day}, {value.year}{comma} "
        f"{hour}:{value.minute:02d}:{value.second:02d} {half}"
    )
