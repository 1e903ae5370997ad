"""``userIdentity.inScopeOf``: the AWS resource whose credentials sign a call. Pure.

AWS's userIdentity element (eventVersion 1.09+): "If the request was made in scope of an
AWS service, such as Lambda or Amazon ECS, it provides information about the resource or
credentials related to the request": ``issuerType`` (e.g. ``AWS::Lambda::Function``) and
``credentialsIssuedTo`` (the function's ARN). Inside a Lambda function the execution
role's credentials are in the environment with the function's name and region, so the
hook knows when a call is signed with them; any other credentials (a role assumed in
the function, a developer's keys) and every other environment get no ``inScopeOf``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from recorder.aws.arn import partition_for

LAMBDA_FUNCTION = "AWS::Lambda::Function"


@dataclass(frozen=True, slots=True)
class LambdaScope:
    """The function this process runs as, and the access key it was issued."""

    function_name: str
    region: str
    access_key_id: str

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> LambdaScope | None:
        """From the Lambda runtime's variables; None outside a function."""
        name = environ.get("AWS_LAMBDA_FUNCTION_NAME")
        region = environ.get("AWS_REGION")
        key = environ.get("AWS_ACCESS_KEY_ID")
        if not (name and region and key):
            return None
        return cls(name, region, key)

    def in_scope_of(self, access_key_id: str | None, account_id: str) -> dict[str, str] | None:
        """``inScopeOf`` of a call signed with ``access_key_id`` by ``account_id``."""
        if access_key_id != self.access_key_id:
            return None
        arn = (
            f"arn:{partition_for(self.region)}:lambda:{self.region}:{account_id}:"
            f"function:{self.function_name}"
        )
        return {"issuerType": LAMBDA_FUNCTION, "credentialsIssuedTo": arn}
