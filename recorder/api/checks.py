"""Does the bucket, topic or key a trail names exist, and did its owner grant CloudTrail?

CreateTrail and UpdateTrail answer S3BucketDoesNotExistException,
InsufficientS3BucketPolicyException, InsufficientSnsTopicPolicyException,
InsufficientEncryptionPolicyException and KmsKeyNotFoundException/
KmsKeyDisabledException before a trail is stored: the writer acts with recorder's
own identity, so a trail may only name resources whose owner granted recorder's
delivery principal (``RECORDER_DELIVERY_PRINCIPAL``: the writer's role on AWS,
``cloudtrail.amazonaws.com`` on the local stack) what delivery needs (the rules and
the policy evaluation are :mod:`recorder.policies`). A bucket without a policy grants
nothing; a policy the owner does not let the principal read is answered as such,
naming the refused read and the principal, never as "no policy".

A bare SNS topic name or KMS key id/alias resolves only in the caller's account and
the trail's region, as in AWS: it never falls back to another account's topic of the
same name.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Protocol

import aioboto3
from botocore.exceptions import BotoCoreError, ClientError

from recorder.api.protocol import ApiError
from recorder.aws.arn import arn_or_none, partition_for
from recorder.aws.arn import trail_arn as make_trail_arn
from recorder.policies import (
    Principal,
    bucket_grant_problem,
    key_grant_problem,
    topic_grant_problem,
)
from recorder.settings import Settings
from recorder.trails.errors import answer

#: Answers that mean the owner does not let the principal read (S3, SNS, KMS).
REFUSED = frozenset({"403", "AccessDenied", "AuthorizationError", "AccessDeniedException"})


@dataclass(frozen=True, slots=True)
class KmsKey:
    arn: str


class ResourceChecks(Protocol):
    async def bucket(
        self,
        name: str,
        prefix: str | None,
        account_id: str,
        region: str,
        *,
        trail_arn: str = "",
        organization_id: str | None = None,
    ) -> None: ...

    async def topic(
        self, name_or_arn: str, account_id: str, region: str, *, trail_arn: str = ""
    ) -> str:
        """The topic's ARN."""
        ...

    async def kms_key(
        self, key_id: str, account_id: str, region: str, *, trail_arn: str = "", bucket: str = ""
    ) -> KmsKey: ...


def topic_arn(name_or_arn: str, account_id: str, region: str) -> str:
    """A bare topic name is the caller's topic in the trail's region (and partition)."""
    if name_or_arn.startswith("arn:"):
        return name_or_arn
    return f"arn:{partition_for(region)}:sns:{region}:{account_id}:{name_or_arn}"


def key_arn(key_id: str, account_id: str, region: str) -> str:
    """A bare key id or ``alias/name`` is the caller's key in the trail's region."""
    if key_id.startswith("arn:"):
        return key_id
    base = f"arn:{partition_for(region)}:kms:{region}:{account_id}"
    if key_id.startswith("alias/"):
        return f"{base}:{key_id}"
    return f"{base}:key/{key_id}"


def _trail(trail_arn: str, account_id: str, region: str) -> str:
    return trail_arn or make_trail_arn(region, account_id, "*")


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _arn_region(value: str) -> str | None:
    arn = arn_or_none(value)
    return arn.region if arn is not None and arn.region else None


def _arn_account(value: str) -> str | None:
    arn = arn_or_none(value)
    return arn.account if arn is not None else None


class AwsResourceChecks:
    """Checks against the configured S3/SNS/KMS endpoint (moto on the local stack).

    Clients are opened once per (service, region) and kept until :meth:`close`.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.principal = Principal.parse(settings.delivery_principal)
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

    async def bucket(
        self,
        name: str,
        prefix: str | None,
        account_id: str,
        region: str,
        *,
        trail_arn: str = "",
        organization_id: str | None = None,
    ) -> None:
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
        policy: str | None
        try:
            policy = (await s3.get_bucket_policy(Bucket=name))["Policy"]
        except ClientError as exc:
            if _code(exc) in REFUSED:
                raise ApiError(
                    *answer(
                        "bucket_policy_unreadable",
                        bucket=name,
                        principal=self.principal,
                        error=_code(exc),
                    )
                ) from None
            if _code(exc) != "NoSuchBucketPolicy":
                raise _unavailable("S3", exc) from exc
            policy = None
        except BotoCoreError as exc:
            raise _unavailable("S3", exc) from exc
        problem = bucket_grant_problem(
            policy,
            name,
            prefix,
            account_id,
            _trail(trail_arn, account_id, region),
            organization_id,
            principal=self.principal,
        )
        if problem is not None:
            raise ApiError(*answer("bucket_policy", bucket=name))

    async def topic(
        self, name_or_arn: str, account_id: str, region: str, *, trail_arn: str = ""
    ) -> str:
        """The topic's ARN, once its policy lets CloudTrail publish to it."""
        arn = topic_arn(name_or_arn, account_id, region)
        sns = await self._client("sns", _arn_region(arn) or region)
        try:
            attributes = (await sns.get_topic_attributes(TopicArn=arn))["Attributes"]
        except ClientError as exc:
            if _code(exc) in REFUSED:
                raise ApiError(
                    *answer(
                        "topic_policy_unreadable",
                        topic=arn,
                        principal=self.principal,
                        error=_code(exc),
                    )
                ) from None
            if _code(exc) in {"NotFound", "NotFoundException", "InvalidParameter"}:
                raise ApiError(*answer("topic_policy")) from None
            raise _unavailable("SNS", exc) from exc
        except BotoCoreError as exc:
            raise _unavailable("SNS", exc) from exc
        found = str(attributes.get("TopicArn") or arn)
        if topic_grant_problem(
            attributes.get("Policy"),
            found,
            account_id,
            _trail(trail_arn, account_id, region),
            principal=self.principal,
        ):
            raise ApiError(*answer("topic_policy"))
        return found

    async def kms_key(
        self, key_id: str, account_id: str, region: str, *, trail_arn: str = "", bucket: str = ""
    ) -> KmsKey:
        wanted = key_arn(key_id, account_id, region)
        kms = await self._client("kms", _arn_region(wanted) or region)
        try:
            meta = (await kms.describe_key(KeyId=wanted))["KeyMetadata"]
        except ClientError as exc:
            if _code(exc) in REFUSED:
                raise self._key_refused(bucket, wanted, "kms:DescribeKey", exc) from None
            if _code(exc) in {"NotFoundException", "InvalidArnException", "ValidationException"}:
                raise ApiError("KmsKeyNotFoundException", f"KMS key not found: {key_id}") from None
            raise ApiError("KmsException", f"KMS refused DescribeKey: {_code(exc)}") from exc
        except BotoCoreError as exc:
            raise _unavailable("KMS", exc) from exc
        arn = str(meta["Arn"])
        if _arn_account(arn) != _arn_account(wanted):
            # the endpoint answered with a key of another account than the one named
            raise ApiError("KmsKeyNotFoundException", f"KMS key not found: {key_id}")
        if not meta.get("Enabled", True) or meta.get("KeyState") in {"Disabled", "PendingDeletion"}:
            raise ApiError("KmsKeyDisabledException", f"KMS key is disabled: {key_id}")
        try:
            policy = (await kms.get_key_policy(KeyId=arn, PolicyName="default"))["Policy"]
        except ClientError as exc:
            if _code(exc) in REFUSED:
                raise self._key_refused(bucket, arn, "kms:GetKeyPolicy", exc) from None
            if _code(exc) != "NotFoundException":
                raise _unavailable("KMS", exc) from exc
            policy = None
        except BotoCoreError as exc:
            raise _unavailable("KMS", exc) from exc
        if key_grant_problem(
            policy, arn, account_id, _trail(trail_arn, account_id, region), principal=self.principal
        ):
            raise ApiError(*answer("encryption_policy", bucket=bucket, key=arn))
        return KmsKey(arn=arn)

    def _key_refused(self, bucket: str, key: str, action: str, exc: ClientError) -> ApiError:
        return ApiError(
            *answer(
                "encryption_policy_unreadable",
                bucket=bucket,
                key=key,
                principal=self.principal,
                action=action,
                error=_code(exc),
            )
        )


def _unavailable(service: str, exc: Exception) -> ApiError:
    return ApiError(
        "ServiceUnavailableException",
        f"Could not check the trail's {service} resources: {type(exc).__name__}",
        status=503,
    )
