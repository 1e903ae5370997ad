"""Who recorder delivers as: the principal a bucket, topic or key policy must name. Pure.

AWS's CloudTrail writes as the service principal ``cloudtrail.amazonaws.com``, and the
guide's policies grant that principal. recorder is not that service: on AWS its
writer signs with its own role (IRSA or the node's role), and a bucket in another
account refuses every put its policy does not grant that role. So the principal is a
setting (``RECORDER_DELIVERY_PRINCIPAL``): the writer's role ARN on AWS, the service
principal only on a local emulator, where the guide's policies then work unchanged.

A principal brings the global condition keys AWS puts in the request context of its
requests: ``aws:PrincipalIsAWSService`` and ``aws:PrincipalServiceName`` for a service
(which acts for a trail: ``aws:SourceArn``/``aws:SourceAccount`` are added per trail by
:mod:`recorder.policies.grants`), ``aws:PrincipalArn`` and ``aws:PrincipalAccount``
for an IAM role or user (no ``aws:SourceArn``: AWS sets it only on a service's
requests made for a resource).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from recorder.aws.arn import arn_or_none, is_account_id

#: The service principal AWS's CloudTrail delivers as (the guide's policies name it).
CLOUDTRAIL_SERVICE = "cloudtrail.amazonaws.com"
_SERVICE = re.compile(r"[a-z0-9][a-z0-9.-]*\.amazonaws\.com(?:\.cn)?")
_IAM_RESOURCE = re.compile(r"(?:role|user)/.+|root")


@dataclass(frozen=True, slots=True)
class Principal:
    """A service principal (``cloudtrail.amazonaws.com``) or an IAM principal, by ARN
    (``arn:aws:iam::111122223333:role/recorder-writer``)."""

    name: str

    @classmethod
    def parse(cls, value: str) -> Principal:
        """A service principal name, an IAM role or user ARN, or an assumed-role session
        ARN (what STS GetCallerIdentity answers; it stands for its role). ValueError
        saying what was expected for anything else."""
        value = value.strip()
        if _SERVICE.fullmatch(value):
            return cls(value)
        arn = arn_or_none(value)
        if arn is not None and is_account_id(arn.account) and not arn.region:
            if arn.service == "iam" and _IAM_RESOURCE.fullmatch(arn.resource):
                return cls(value)
            if arn.service == "sts" and arn.resource.startswith("assumed-role/"):
                role = arn.resource.split("/")[1]
                if role:
                    return cls(f"arn:{arn.partition}:iam::{arn.account}:role/{role}")
        raise ValueError(
            f"{value!r} is not a delivery principal: give the writer's IAM role ARN "
            "(arn:aws:iam::<account>:role/<name>), or a service principal such as "
            f"{CLOUDTRAIL_SERVICE} on a local emulator"
        )

    @property
    def is_service(self) -> bool:
        return not self.name.startswith("arn:")

    @property
    def account(self) -> str:
        """The IAM principal's account ("" for a service)."""
        arn = arn_or_none(self.name)
        return arn.account if arn is not None else ""

    @property
    def partition(self) -> str | None:
        arn = arn_or_none(self.name)
        return arn.partition if arn is not None else None

    def context(self) -> dict[str, str]:
        """The global condition keys of every request this principal sends."""
        if self.is_service:
            return {"aws:PrincipalIsAWSService": "true", "aws:PrincipalServiceName": self.name}
        return {
            "aws:PrincipalIsAWSService": "false",
            "aws:PrincipalArn": self.name,
            "aws:PrincipalAccount": self.account,
        }

    def named_by(self, element: Any) -> bool:
        """Whether a statement's ``Principal`` element names this principal.

        ``"*"`` names everyone; ``{"Service": ...}`` names services; ``{"AWS": "*"}``
        every IAM principal (a service is not one: SNS's default topic policy uses it,
        and CloudTrail does not accept that policy); ``{"AWS": <ARN>}`` the principal
        with that ARN, and an account (``111122223333`` or
        ``arn:aws:iam::111122223333:root``) every IAM principal of that account, whose
        own IAM policies then decide (the writer's role policy is its operator's).
        """
        if element == "*":
            return True
        if not isinstance(element, Mapping):
            return False
        if self.is_service:
            return any(str(p).lower() == self.name for p in _as_list(element.get("Service")))
        for value in _as_list(element.get("AWS")):
            if not isinstance(value, str):
                continue
            if value in ("*", self.name) or value in (
                self.account,
                f"arn:{self.partition}:iam::{self.account}:root",
            ):
                return True
        return False

    def __str__(self) -> str:
        return self.name


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


CLOUDTRAIL = Principal(CLOUDTRAIL_SERVICE)

__all__ = ["CLOUDTRAIL", "CLOUDTRAIL_SERVICE", "Principal"]
