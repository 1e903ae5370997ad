"""Resource-policy evaluation: may recorder's delivery principal do X to resource R?

recorder writes log files, publishes notices and encrypts with its own identity, so
before it accepts a destination it must check what AWS checks: that the *owner* of
the bucket, topic or key granted the delivery principal (:mod:`recorder.policies.
principal`: the writer's role on AWS, ``cloudtrail.amazonaws.com`` on a local
emulator) the actions delivery needs (guide lines 10092-10115, 10345-10360,
10860-10880), with the request context the real service evaluates. Otherwise tenant
A could point its trail at tenant B's resources and have recorder write there (a
confused deputy).

The evaluation follows the IAM policy evaluation logic for one resource-based
policy: an explicit ``Deny`` that matches wins; otherwise a matching ``Allow``
allows; otherwise the request is implicitly denied. A statement matches when its
``Principal``/``NotPrincipal``, ``Action``/``NotAction``, ``Resource``/``NotResource``
and every ``Condition`` match. It fails closed: a condition operator we do not know
makes an ``Allow`` statement not match and a ``Deny`` statement match.

Why our own evaluator: the maintained Python packages around IAM policies lint or
generate them (``parliament``, ``policy_sentry``, ``cloudsplaining``) and do not
evaluate a request; moto's ``IAMPolicyStatement`` ignores service principals,
treats a ``Deny`` whose condition does not match as a denial, and matches actions
case-sensitively. The subset here is small, pure and tested against the guide's
policies.

:func:`may` is the one entry point; what CloudTrail needs of a bucket,
topic or key is in :mod:`recorder.policies.grants`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import orjson

from recorder.policies.principal import CLOUDTRAIL, CLOUDTRAIL_SERVICE, Principal


class Decision(Enum):
    ALLOW = "Allow"
    EXPLICIT_DENY = "ExplicitDeny"
    IMPLICIT_DENY = "ImplicitDeny"


@dataclass(frozen=True, slots=True)
class Request:
    """One action of a principal on a resource, with its condition keys.

    ``context`` keys are compared case-insensitively, as IAM does
    (``aws:SourceArn``, ``aws:SourceAccount``, ``s3:x-amz-acl``,
    ``kms:EncryptionContext:aws:cloudtrail:arn``); the principal's own global keys
    (``aws:PrincipalArn``, ``aws:PrincipalIsAWSService``) are added to them."""

    action: str
    resource: str
    principal: Principal = CLOUDTRAIL
    context: Mapping[str, str] = field(default_factory=dict)


def parse(policy: str | bytes | Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    """The statements of a policy document; an unreadable policy has none."""
    if policy is None:
        return []
    if isinstance(policy, str | bytes):
        try:
            policy = orjson.loads(policy)
        except orjson.JSONDecodeError:
            return []
    if not isinstance(policy, Mapping):
        return []
    statements = policy.get("Statement")
    if isinstance(statements, Mapping):
        statements = [statements]
    if not isinstance(statements, list):
        return []
    return [s for s in statements if isinstance(s, Mapping)]


def evaluate(policy: str | bytes | Mapping[str, Any] | None, request: Request) -> Decision:
    allowed = False
    context = {k.lower(): v for k, v in {**request.principal.context(), **request.context}.items()}
    for st in parse(policy):
        effect = st.get("Effect")
        if effect not in ("Allow", "Deny"):
            continue
        deny = effect == "Deny"
        if not _statement_matches(st, request, context, deny=deny):
            continue
        if deny:
            return Decision.EXPLICIT_DENY
        allowed = True
    return Decision.ALLOW if allowed else Decision.IMPLICIT_DENY


def may(
    policy: str | bytes | Mapping[str, Any] | None,
    principal: Principal,
    actions: Iterable[str],
    resource: str,
    context: Mapping[str, str],
) -> str | None:
    """``None`` if the policy lets ``principal`` do every action on ``resource``; else
    the first action it may not do (for the error message and the metric)."""
    for action in actions:
        if evaluate(policy, Request(action, resource, principal, context)) is not Decision.ALLOW:
            return action
    return None


# -- matching ---------------------------------------------------------------------------


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _statement_matches(
    st: Mapping[str, Any], request: Request, context: Mapping[str, str], *, deny: bool
) -> bool:
    if "Principal" in st:
        if not request.principal.named_by(st["Principal"]):
            return False
    elif "NotPrincipal" in st:
        if request.principal.named_by(st["NotPrincipal"]):
            return False
    else:
        return False  # a resource policy statement names whom it is about
    if "Action" in st:
        if not _any_action(st["Action"], request.action):
            return False
    elif "NotAction" in st:
        if _any_action(st["NotAction"], request.action):
            return False
    else:
        return False
    if "Resource" in st:
        if not _any_resource(st["Resource"], request.resource):
            return False
    elif "NotResource" in st:
        if _any_resource(st["NotResource"], request.resource):
            return False
    else:
        return False
    return _conditions_match(st.get("Condition"), context, deny=deny)


def _wildcard(pattern: str, value: str, *, case_sensitive: bool) -> bool:
    if not case_sensitive:
        pattern, value = pattern.lower(), value.lower()
    # IAM wildcards are * and ?; fnmatch's [..] classes must not apply
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, flags=re.DOTALL) is not None


def _any_action(patterns: Any, action: str) -> bool:
    return any(
        isinstance(p, str) and _wildcard(p, action, case_sensitive=False)
        for p in _as_list(patterns)
    )


def _any_resource(patterns: Any, resource: str) -> bool:
    return any(
        isinstance(p, str) and (p == "*" or _arn_like(p, resource)) for p in _as_list(patterns)
    )


def _arn_like(pattern: str, arn: str) -> bool:
    """ARN matching: the six colon-separated parts, each with wildcards (the last part
    may itself hold colons)."""
    p_parts, a_parts = pattern.split(":", 5), arn.split(":", 5)
    if len(p_parts) != 6 or len(a_parts) != 6:
        return _wildcard(pattern, arn, case_sensitive=True)
    return all(_wildcard(p, a, case_sensitive=True) for p, a in zip(p_parts, a_parts, strict=True))


_STRING_OPS = {
    "stringequals": lambda want, got: want == got,
    "stringequalsignorecase": lambda want, got: want.lower() == got.lower(),
    "stringlike": lambda want, got: _wildcard(want, got, case_sensitive=True),
    "arnequals": lambda want, got: want == got,
    "arnlike": _arn_like,
}


def _conditions_match(conditions: Any, context: Mapping[str, str], *, deny: bool) -> bool:
    if conditions is None:
        return True
    if not isinstance(conditions, Mapping):
        return deny  # unreadable: fail closed
    for operator, block in conditions.items():
        if not isinstance(block, Mapping):
            return deny
        for key, wanted in block.items():
            verdict = _condition(str(operator), str(key).lower(), _as_list(wanted), context)
            if verdict is None:
                return deny  # an operator we do not evaluate: fail closed
            if not verdict:
                return False
    return True


def _condition(
    operator: str, key: str, wanted: list[Any], context: Mapping[str, str]
) -> bool | None:
    op = operator.lower()
    for qualifier in ("forallvalues:", "foranyvalue:"):
        if op.startswith(qualifier):
            op = op[len(qualifier) :]  # single-valued keys: both reduce to the plain test
    if_exists = op.endswith("ifexists")
    if if_exists:
        op = op[: -len("ifexists")]
    got = context.get(key)
    if op == "null":
        is_null = got is None
        return any(str(w).lower() == str(is_null).lower() for w in wanted)
    if op == "bool":
        if got is None:
            return if_exists
        return any(str(w).lower() == got.lower() for w in wanted)
    negated = "not" in op
    base = op.replace("not", "", 1) if negated else op
    test = _STRING_OPS.get(base)
    if test is None:
        return None
    if got is None:
        return True if if_exists else negated
    hit = any(test(str(w), got) for w in wanted)
    return not hit if negated else hit


__all__ = [
    "CLOUDTRAIL_SERVICE",
    "Decision",
    "Principal",
    "Request",
    "evaluate",
    "may",
    "parse",
]
