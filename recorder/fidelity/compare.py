"""Compare a record the hook produced with the one AWS wrote, field by field.

Pure. Each field is judged only where AWS wrote it (records of 2014 have no
``readOnly``; most have no ``apiVersion``), so a field's figure says how often the
hook writes what AWS writes, not how often both leave it out. Elements are compared
by key path (case-sensitive, list positions folded to ``[]``) and by value at each
path both have, so a name spelled differently and a value written differently are
told apart.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

#: The fields a detection rule or a selector keys on first.
IDENTITY = ("eventSource", "eventName", "readOnly", "managementEvent", "eventCategory")
SCALARS = (*IDENTITY, "eventType", "apiVersion", "errorCode")
ELEMENTS = ("requestParameters", "responseElements", "additionalEventData")
#: Every figure the report gives, in its column order.
FIELDS = (
    *SCALARS,
    "resources",
    "requestParameters.keys",
    "requestParameters.values",
    "responseElements.keys",
    "responseElements.values",
    "additionalEventData.keys",
)


@dataclass(frozen=True, slots=True)
class Difference:
    field: str  # one of FIELDS
    path: str  # the key path inside an element, "" for a whole field
    expected: Any  # what AWS wrote ("<absent>" when it has no such path)
    got: Any

    def __str__(self) -> str:
        where = f"{self.field}:{self.path}" if self.path else self.field
        return f"{where}: AWS {_short(self.expected)}, recorder {_short(self.got)}"


ABSENT = "<absent>"


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def paths(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(key path, leaf value) of every leaf; an empty object or list is a leaf."""
    if isinstance(value, Mapping) and value:
        for k, v in value.items():
            yield from paths(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(value, list) and value:
        for v in value:
            yield from paths(v, f"{prefix}[]")
    else:
        yield prefix, value


def _leaves(value: Any) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for path, leaf in paths(value):
        out.setdefault(path, []).append(leaf)
    return out


def compare_elements(field: str, expected: Any, got: Any) -> list[Difference]:
    """Key paths, then values at the paths both have."""
    if expected is None or got is None:
        if expected is None and got is None:
            return []
        return [Difference(f"{field}.keys", "", expected, got)]
    want, have = _leaves(expected), _leaves(got)
    out = [
        Difference(f"{field}.keys", p, ABSENT if p not in want else "present", ABSENT)
        for p in sorted(want.keys() - have.keys())
    ]
    out += [
        Difference(f"{field}.keys", p, ABSENT, have[p][0])
        for p in sorted(have.keys() - want.keys())
    ]
    if field == "additionalEventData":
        return out
    for p in sorted(want.keys() & have.keys()):
        if sorted(map(_norm, want[p])) != sorted(map(_norm, have[p])):
            out.append(Difference(f"{field}.values", p, want[p][0], have[p][0]))
    return out


def _norm(value: Any) -> str:
    return repr(value)


def _resource_key(resource: Mapping[str, Any]) -> tuple[str, str]:
    return (str(resource.get("type", "")), str(resource.get("ARN", "")))


def _arn_parts(value: Any) -> list[str] | None:
    if not isinstance(value, str) or not value.startswith("arn:"):
        return None
    parts = value.split(":", 5)
    return parts if len(parts) == 6 else None


def same_arn(want: Any, have: Any, record: Mapping[str, Any] | None = None) -> bool:
    """The ARN AWS wrote and the hook's: equal, or equal but for a region or account
    that is not the record's own. The guides reuse one placeholder ARN across their
    examples (``arn:aws:kms:us-west-2:111122223333:key/1234abcd-...`` in a us-east-1
    event), which no recorder of the call could write; the service, resource type
    and name are still judged."""
    if want == have:
        return True
    w, h = _arn_parts(want), _arn_parts(have)
    if w is None or h is None or record is None:
        return False
    own = {str(record.get("awsRegion")), str(record.get("recipientAccountId"))}
    own.add(str((record.get("userIdentity") or {}).get("accountId")))
    for i in (3, 4):  # region, account
        if w[i] != h[i] and w[i] in own:
            return False
    return w[:3] == h[:3] and w[5] == h[5]


def compare_resources(
    expected: Any, got: Any, record: Mapping[str, Any] | None = None
) -> list[Difference]:
    """Same number of resources, each AWS entry matched by type (where AWS gives one)
    and ARN (where AWS gives one: some guides print ``""`` for a key they elide)."""
    want = [r for r in expected or [] if isinstance(r, Mapping)]
    have = [r for r in got or [] if isinstance(r, Mapping)]
    left = list(have)
    missing = []
    for r in want:
        match = next(
            (
                h
                for h in left
                if (not r.get("type") or r.get("type") == h.get("type"))
                and (not r.get("ARN") or same_arn(r.get("ARN"), h.get("ARN"), record))
            ),
            None,
        )
        if match is None:
            missing.append(r)
        else:
            left.remove(match)
    out = [Difference("resources", _resource_path(r), _resource_key(r), ABSENT) for r in missing]
    out += [Difference("resources", _resource_path(h), ABSENT, _resource_key(h)) for h in left]
    return out


def _resource_path(resource: Mapping[str, Any]) -> str:
    return str(resource.get("type") or "?")


def compare(expected: Mapping[str, Any], got: Mapping[str, Any]) -> list[Difference]:
    """Every difference of ``got`` from ``expected``, on the fields AWS wrote."""
    out: list[Difference] = []
    for name in SCALARS:
        if name in expected and expected.get(name) != got.get(name, ABSENT):
            out.append(Difference(name, "", expected.get(name), got.get(name, ABSENT)))
    if expected.get("resources"):
        out += compare_resources(expected.get("resources"), got.get("resources"), expected)
    for name in ELEMENTS:
        if name in expected:
            out += compare_elements(name, expected.get(name), got.get(name))
    return out


def judged(expected: Mapping[str, Any]) -> tuple[str, ...]:
    """The FIELDS a record is judged on: those AWS wrote."""
    out = [n for n in SCALARS if n in expected]
    if expected.get("resources"):
        out.append("resources")
    for name in ELEMENTS:
        if name in expected:
            out.append(f"{name}.keys")
            if name != "additionalEventData" and expected.get(name) is not None:
                out.append(f"{name}.values")
    return tuple(out)
