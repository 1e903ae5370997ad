"""The ``resources`` of a record: what the call acted on, as CloudTrail names it.

S3 calls name the object and the bucket with the bucket owner's account (guide line
4830); Lambda calls the function. Other services follow the conventions table's
``RESOURCES``: members of the request (and response) whose values name a resource,
turned into the ARN CloudTrail writes. Pure: plain data in, plain data out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from recorder.aws.arn import account_of, arn_or_none, is_account_id
from recorder.events import conventions as cv

_PARTIQL_TABLE = re.compile(
    r"""\b(?:FROM|INTO|UPDATE|DELETE\s+FROM)\s+["']?([A-Za-z0-9_.-]+)""", re.IGNORECASE
)


def partition_of_region(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def _values(value: Any, member: str, *, keys: bool = False) -> Iterator[tuple[Any, Mapping]]:
    """(value, its parent) of every member called ``member``, at any depth."""
    if isinstance(value, Mapping):
        for k, v in value.items():
            if k == member:
                if keys and isinstance(v, Mapping):
                    for name in v:
                        yield name, value
                elif isinstance(v, list):
                    for item in v:
                        yield item, value
                else:
                    yield v, value
            elif k != "ResponseMetadata":
                yield from _values(v, member, keys=keys)
    elif isinstance(value, list):
        for v in value:
            yield from _values(v, member, keys=keys)


def _arn(rule: cv.ResourceRule, value: str, region: str, account: str) -> str | None:
    if rule.extract is not None:
        m = re.match(rule.extract, value)
        return m.group(1) if m else None
    if value.startswith("arn:"):
        return value
    template = rule.arn
    for prefix, other in rule.prefixed:
        if value.startswith(prefix):
            template = other
            break
    return template.format(
        partition=partition_of_region(region), region=region, account=account, value=value
    )


def _entry(arn: str, rtype: str | None, account: str) -> dict[str, str]:
    """One resource; its account is the ARN's, else the one given, else (a value the
    caller got wrong, which the service refuses) left to the caller's."""
    out: dict[str, str] = {}
    owner = account_of(arn) if arn_or_none(arn) is not None else ""
    out["accountId"] = owner if is_account_id(owner) else account
    if rtype:
        out["type"] = rtype
    out["ARN"] = arn
    return out


def arn_type(arn: str) -> str | None:
    """``AWS::<Service>::<Type>`` of an ARN, as CloudFormation spells it."""
    parsed = arn_or_none(arn)
    if parsed is None:
        return None
    service = cv.SERVICE_TYPE_NAMES.get(parsed.service) or parsed.service.capitalize()
    word = re.split(r"[/:]", parsed.resource, maxsplit=1)[0]
    name = cv.RESOURCE_TYPE_NAMES.get(word) or "".join(p.capitalize() for p in word.split("-"))
    return f"AWS::{service}::{name}"


def table_resources(
    event_source: str,
    event_name: str,
    params: Mapping[str, Any],
    response: Mapping[str, Any] | None,
    region: str,
    account: str,
) -> list[dict[str, str]]:
    """Resources from the conventions table (services other than S3 and Lambda)."""
    spec = cv.RESOURCES.get(event_source)
    if spec is None:
        return []
    found: list[dict[str, str]] = []
    seen: set[str] = set()

    def add(arn: str | None, rtype: str | None, owner: str) -> None:
        if arn and arn not in seen:
            seen.add(arn)
            found.append(_entry(arn, rtype, owner))

    for rule in spec.rules:
        if rule.operations is not None and event_name not in rule.operations:
            continue
        answered = (
            [v for v, _ in _values(response or {}, rule.member) if isinstance(v, str) and v]
            if rule.response
            else []
        )
        asked = [
            (v, parent)
            for v, parent in _values(params, rule.member, keys=rule.keys)
            if isinstance(v, str) and v
        ]
        if rule.response_wins and answered:
            # the response resolves an alias the request named (a KMS alias to its key)
            prefixes = tuple(p for p, _ in rule.prefixed)
            asked = [(v, p) for v, p in asked if not (prefixes and v.startswith(prefixes))]
        if asked:
            answered = []
        for value, parent in asked:
            owner = account
            if rule.account_member and is_account_id(parent.get(rule.account_member)):
                owner = parent[rule.account_member]
            add(_arn(rule, value, region, owner), rule.type, account)
        for value in answered:
            add(_arn(rule, value, region, account), rule.type, account)
    if spec.partiql:
        for statement, _ in _values(params, "Statement"):
            if isinstance(statement, str):
                for table in _PARTIQL_TABLE.findall(statement):
                    arn = f"arn:{partition_of_region(region)}:dynamodb:{region}:{account}:table/{table}"
                    add(arn, "AWS::DynamoDB::Table", account)
    if spec.arn_members:
        for source in (params, response or {}):
            for value in _arn_valued(source):
                add(value, arn_type(value), account)
    return found


def _arn_valued(value: Any) -> Iterator[str]:
    if isinstance(value, Mapping):
        for k, v in value.items():
            if isinstance(k, str) and k.lower().endswith("arn") and isinstance(v, str):
                if arn_or_none(v) is not None:
                    yield v
            elif k != "ResponseMetadata":
                yield from _arn_valued(v)
    elif isinstance(value, list):
        for v in value:
            yield from _arn_valued(v)
