"""Does the bucket, topic or key a trail names exist, and may CloudTrail use it?

CreateTrail and UpdateTrail answer S3BucketDoesNotExistException,
InsufficientS3BucketPolicyException, InvalidSnsTopicNameException and
KmsKeyNotFoundException/KmsKeyDisabledException before a trail is stored: a trail
that points nowhere would only fail later, silently, in the writer.

What "sufficient bucket policy" means here: AWS requires a policy that lets the
``cloudtrail.amazonaws.com`` service principal ``s3:PutObject`` into
``<bucket>/<prefix>/AWSLogs/<account>/*``. A bucket with no policy at all is
accepted (on the local stack buckets are made by the operator, who owns them and
whom the writer writes as); a bucket that has a policy must contain an ``Allow``
statement for that principal, action and object ARN, and no ``Deny`` of it.
Topic policies are not checked.
"""

from __future__ import annotations

import contextlib
import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import aioboto3
import orjson
from botocore.exceptions import BotoCoreError, ClientError

from recorder.api.protocol import ApiError
from recorder.settings import Settings
from recorder.trails.errors import answer

CLOUDTRAIL_PRINCIPAL = "cloudtrail.amazonaws.com"


@dataclass(frozen=True, slots=True)
class KmsKey:
    arn: str


class ResourceChecks(Protocol):
    async def bucket(self, name: str, prefix: str | None, account_id: str, region: str) -> None: ...

    async def topic(self, name_or_arn: str, account_id: str, region: str) -> str:
        """The topic's ARN."""
        ...

    async def kms_key(self, key_id: str, account_id: str, region: str) -> KmsKey: ...


def object_arn(bucket: str, prefix: str | None, account_id: str) -> str:
    """The object ARN CloudTrail writes under (guide line 4146's key layout)."""
    folder = f"{prefix}/" if prefix else ""
    return f"arn:aws:s3:::{bucket}/{folder}AWSLogs/{account_id}/x"


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _principal_matches(principal: Any) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, dict):
        return any(p in {"*", CLOUDTRAIL_PRINCIPAL} for p in _as_list(principal.get("Service")))
    return False


def _action_matches(actions: Iterable[Any]) -> bool:
    return any(fnmatch.fnmatchcase("s3:putobject", str(a).lower()) for a in actions)


def _resource_matches(resources: Iterable[Any], arn: str) -> bool:
    return any(fnmatch.fnmatchcase(arn, str(r)) for r in resources)


def policy_allows_cloudtrail(
    policy: str | bytes, bucket: str, prefix: str | None, account_id: str
) -> bool:
    """Whether a bucket policy lets CloudTrail put log files for ``account_id``."""
    try:
        doc = orjson.loads(policy)
    except orjson.JSONDecodeError:
        return False
    statements = _as_list(doc.get("Statement") if isinstance(doc, dict) else None)
    arn = object_arn(bucket, prefix, account_id)
    allowed = False
    for st in statements:
        if not isinstance(st, dict):
            continue
        if not (
            _principal_matches(st.get("Principal"))
            and _action_matches(_as_list(st.get("Action")))
            and _resource_matches(_as_list(st.get("Resource")), arn)
        ):
            continue
        if st.get("Effect") == "Deny":
            return False
        if st.get("Effect") == "Allow":
            allowed = True
    return allowed


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _arn_region(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[3] if len(parts) > 5 and parts[0] == "arn" and parts[3] else None


class AwsResourceChecks:
    """Checks against the configured S3/SNS/KMS endpoint (moto on the local stack).

    Clients are opened once per (service, region) and kept until :meth:`close`.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._session = aioboto3.Session()
        self._stack = contextlib.AsyncExitStack()
        self._clients: dict[tuple[str, str], Any] = {}

    async def _client(self, service: str, region: str) -> Any:
        key = (service, region)
        if key not in self._clients:
            kwargs = {**self._settings.aws_client_kwargs(), "region_name": region}
            self._clients[key] = await self._stack.enter_async_context(
                self._session.client(service, **kwargs)
            )
        return self._clients[key]

    async def close(self) -> None:
        await self._stack.aclose()
        self._clients.clear()

    async def bucket(self, name: str, prefix: str | None, account_id: str, region: str) -> None:
        s3 = await self._client("s3", region)
        try:
            await s3.head_bucket(Bucket=name)
        except ClientError as exc:
            if _code(exc) in {"404", "NoSuchBucket", "NotFound"}:
                raise ApiError(*answer("bucket_missing", bucket=name)) from None
            if _code(exc) not in {"403", "AccessDenied"}:
                raise _unavailable("S3", exc) from exc
        except BotoCoreError as exc:
            raise _unavailable("S3", exc) from exc
        try:
            policy = (await s3.get_bucket_policy(Bucket=name))["Policy"]
        except ClientError as exc:
            if _code(exc) == "NoSuchBucketPolicy":
                return
            raise _unavailable("S3", exc) from exc
        except BotoCoreError as exc:
            raise _unavailable("S3", exc) from exc
        if not policy_allows_cloudtrail(policy, name, prefix, account_id):
            raise ApiError(*answer("bucket_policy", bucket=name))

    async def topic(self, name_or_arn: str, account_id: str, region: str) -> str:
        """Resolve a topic name or ARN to an existing topic's ARN.

        A bare name is looked up in the trail's region, preferring the caller's
        account: the local endpoint may hold every topic under one account id, and
        the ARN it knows is the one the writer must publish to.
        """
        if name_or_arn.startswith("arn:"):
            sns = await self._client("sns", _arn_region(name_or_arn) or region)
            try:
                await sns.get_topic_attributes(TopicArn=name_or_arn)
                return name_or_arn
            except ClientError as exc:
                if _code(exc) in {"NotFound", "NotFoundException", "InvalidParameter"}:
                    raise _no_topic(name_or_arn) from None
                raise _unavailable("SNS", exc) from exc
            except BotoCoreError as exc:
                raise _unavailable("SNS", exc) from exc
        sns = await self._client("sns", region)
        found: list[str] = []
        try:
            async for page in sns.get_paginator("list_topics").paginate():
                found.extend(
                    t["TopicArn"]
                    for t in page.get("Topics", [])
                    if t["TopicArn"].rsplit(":", 1)[-1] == name_or_arn
                )
        except (ClientError, BotoCoreError) as exc:
            raise _unavailable("SNS", exc) from exc
        if not found:
            raise _no_topic(name_or_arn)
        own = [a for a in found if a.split(":")[4] == account_id]
        return (own or found)[0]

    async def kms_key(self, key_id: str, account_id: str, region: str) -> KmsKey:
        kms = await self._client("kms", _arn_region(key_id) or region)
        try:
            meta = (await kms.describe_key(KeyId=key_id))["KeyMetadata"]
        except ClientError as exc:
            if _code(exc) in {"NotFoundException", "InvalidArnException", "ValidationException"}:
                raise ApiError(
                    "KmsKeyNotFoundException",
                    f"KMS key not found: {key_id}",
                ) from None
            raise ApiError("KmsException", f"KMS refused DescribeKey: {_code(exc)}") from exc
        except BotoCoreError as exc:
            raise _unavailable("KMS", exc) from exc
        if not meta.get("Enabled", True) or meta.get("KeyState") in {"Disabled", "PendingDeletion"}:
            raise ApiError("KmsKeyDisabledException", f"KMS key is disabled: {key_id}")
        return KmsKey(arn=str(meta["Arn"]))


def _no_topic(name: str) -> ApiError:
    """AWS answers an absent topic as one whose policy denies CloudTrail."""
    return ApiError(*answer("topic_policy"))


def _unavailable(service: str, exc: Exception) -> ApiError:
    return ApiError(
        "ServiceUnavailableException",
        f"Could not check the trail's {service} resources: {type(exc).__name__}",
        status=503,
    )
