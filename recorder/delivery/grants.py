"""The writer's grant checks: does the destination's owner still grant recorder?

CreateTrail and UpdateTrail check a trail's bucket, topic and key policies
(:mod:`recorder.api.checks`), but an owner may take the grant back later; AWS would
then refuse the writes, and recorder, which writes with one identity for every
tenant, must refuse them itself where its identity could still write (its own
account's buckets, an emulator). Before a delivery the writer asks
:class:`GrantChecker`; when the policy is due (:mod:`recorder.delivery.grantbook`
decides when) it reads it (``GetBucketPolicy``, the topic's ``Policy`` attribute,
``GetKeyPolicy``) with the writer's own clients and evaluates it for the delivery
principal (``RECORDER_DELIVERY_PRINCIPAL``) with :mod:`recorder.policies`. A missing
bucket or key grant fails the put as ``AccessDenied``, a missing topic grant fails
the notice as ``AuthorizationError``: both are permanent, so the batch or notice is
parked exactly as a refusal by AWS would park it, and GetTrailStatus names the grant.
A read the owner refuses (403) is its own answer, never "no policy": recorder cannot
tell that the grant is there, so it parks the same way and says which read was
refused to whom.

Checks run per batch (never per record), under the destination's own lock and
before an upload slot is taken, so a slow policy read holds up only the destination
that waits for it; concurrent checks of one grant share one read.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from recorder.aws.arn import arn_or_none
from recorder.delivery.grantbook import (
    GrantBook,
    GrantKey,
    Outcome,
    Resource,
    error_code,
    missing_grant,
    refused_read,
    status_text,
)
from recorder.delivery.notices import DeliveryFailed
from recorder.delivery.regional import RegionalClients, arn_region
from recorder.delivery.target import DeliveryTarget
from recorder.obs.logging import get_logger
from recorder.obs.metrics import Metrics
from recorder.policies import (
    Principal,
    bucket_grant_problem,
    key_grant_problem,
    topic_grant_problem,
)
from recorder.retry import Failure, classify
from recorder.settings import Settings
from recorder.trails.destination import Destination

log = get_logger("recorder.writer")

#: The owner's answer that there is no policy (which grants nothing).
NO_POLICY = frozenset({"NoSuchBucketPolicy"})
#: The owner's answers that recorder may not read the policy (S3, KMS, SNS).
REFUSED = frozenset({"AccessDenied", "403", "AccessDeniedException", "AuthorizationError"})
#: How often unused answers are forgotten (seconds).
FORGET_EVERY = 3600.0


class PolicyUnreadable(Exception):
    """The policy could not be read (5xx, throttling, connection, resource gone)."""


class PolicyRefused(Exception):
    """The owner refused recorder's read of the policy (403)."""

    def __init__(self, action: str, code: str) -> None:
        super().__init__(f"{action}: {code}")
        self.action = action
        self.code = code


def owner_account(trail_arn: str) -> str:
    """``arn:aws:cloudtrail:<region>:<account>:trail/<name>`` -> account ("" if none)."""
    arn = arn_or_none(trail_arn)
    return arn.account if arn is not None else ""


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class GrantChecker:
    def __init__(
        self,
        settings: Settings,
        metrics: Metrics,
        s3: Any,
        clients: RegionalClients,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.s3 = s3
        self.clients = clients
        self.principal = Principal.parse(settings.delivery_principal)
        self.book = GrantBook(settings.grant_recheck_interval)
        self._clock = clock
        self._checking: dict[GrantKey, asyncio.Future[None]] = {}
        self._forgot_at = clock()
        # at 0 before the first check: alerts take increase() of the denied/error series
        for resource in Resource:
            for outcome in Outcome:
                metrics.writer_grant_checks.labels(resource.value, outcome.value)

    # -- what the deliveries ask -------------------------------------------------------
    @staticmethod
    def delivery_grants(dest: Destination, target: DeliveryTarget) -> list[GrantKey]:
        """The bucket's grant, and the key's for an SSE-KMS trail."""
        account = owner_account(dest.trail_arn)
        keys = [
            GrantKey(
                Resource.BUCKET, target.bucket, account, dest.trail_arn, target.prefix, dest.org_id
            )
        ]
        if target.kms_key_id:
            keys.append(GrantKey(Resource.KEY, target.kms_key_id, account, dest.trail_arn))
        return keys

    @staticmethod
    def notice_grant(dest: Destination, topic_arn: str) -> GrantKey:
        return GrantKey(Resource.TOPIC, topic_arn, owner_account(dest.trail_arn), dest.trail_arn)

    async def check_delivery(
        self, dest: Destination, target: DeliveryTarget, *, retry: bool = False
    ) -> None:
        """Raises :class:`DeliveryFailed` (``AccessDenied``) when the bucket's or the
        key's policy does not grant the principal what this delivery needs."""
        for key in self.delivery_grants(dest, target):
            await self._require(key, retry)

    async def check_notice(self, dest: Destination, topic_arn: str, *, retry: bool = False) -> None:
        """Raises :class:`DeliveryFailed` (``AuthorizationError``) when the topic's
        policy does not let the principal publish."""
        await self._require(self.notice_grant(dest, topic_arn), retry)

    def distrust(self, keys: list[GrantKey]) -> None:
        """AWS refused a put or publish that the cached grants allowed (the owner changed
        a policy since they were read): read them again at the next try, which then
        says what is missing instead of only S3's or SNS's code."""
        for key in keys:
            self.book.distrust(key)

    async def _require(self, key: GrantKey, retry: bool) -> None:
        problem = await self.problem(key, retry=retry)
        if problem is not None:
            failure = Failure(error_code(key.resource), True)
            raise DeliveryFailed(failure, status_text(key.resource, problem))

    async def problem(self, key: GrantKey, *, retry: bool = False) -> str | None:
        """The missing grant, from the cache or a fresh read when one is due."""
        if not self.book.due(key, self._clock(), retry=retry):
            return self.book.problem(key)
        running = self._checking.get(key)
        if running is None:
            running = asyncio.ensure_future(self._check(key))
            self._checking[key] = running
            running.add_done_callback(lambda _: self._checking.pop(key, None))
        await asyncio.shield(running)
        return self.book.problem(key)

    # -- reading and judging -----------------------------------------------------------
    async def _check(self, key: GrantKey) -> None:
        now = self._clock()
        before = self.book.problem(key)
        try:
            outcome = self._record(key, await self._judged(key), before, now)
        except PolicyUnreadable as exc:
            outcome = self.book.failed(key, now)
            log.warning(
                "grant_check_failed",
                trail_arn=key.trail_arn,
                resource=key.resource.value,
                name=key.name,
                error=str(exc),
                kept=before,
            )
        except Exception as exc:  # a check must never end the writer or park anything
            outcome = self.book.failed(key, now)
            log.error("grant_check_crashed", trail_arn=key.trail_arn, error=repr(exc), exc_info=exc)
        self.metrics.writer_grant_checks.labels(key.resource.value, outcome.value).inc()
        if now - self._forgot_at > FORGET_EVERY:
            self._forgot_at = now
            self.book.forget_unused(now)

    async def _judged(self, key: GrantKey) -> tuple[str | None, bool]:
        """(what is missing or None, whether the read was refused)."""
        try:
            policy, resource_arn = await self._fetch(key)
        except PolicyRefused as exc:
            principal = str(self.principal)
            return refused_read(key.resource, principal, key.name, exc.action, exc.code), True
        return self._judge(key, policy, resource_arn), False

    def _record(
        self, key: GrantKey, judged: tuple[str | None, bool], before: str | None, now: float
    ) -> Outcome:
        problem, refused = judged
        outcome = self.book.record(key, problem, now, refused=refused)
        fields = {"trail_arn": key.trail_arn, "resource": key.resource.value, "name": key.name}
        if problem is not None:
            log.warning("grant_refused" if refused else "grant_missing", **fields, missing=problem)
        elif before is not None:
            log.info("grant_restored", **fields)
        return outcome

    def _judge(self, key: GrantKey, policy: str | None, resource_arn: str) -> str | None:
        p = self.principal
        if key.resource is Resource.BUCKET:
            grant = bucket_grant_problem(
                policy,
                key.name,
                key.prefix,
                key.account_id,
                key.trail_arn,
                key.organization_id,
                principal=p,
            )
        elif key.resource is Resource.KEY:
            grant = key_grant_problem(
                policy, resource_arn, key.account_id, key.trail_arn, principal=p
            )
        else:
            grant = topic_grant_problem(
                policy, resource_arn, key.account_id, key.trail_arn, principal=p
            )
        return None if grant is None else missing_grant(key.resource, str(p), grant)

    async def _fetch(self, key: GrantKey) -> tuple[str | None, str]:
        """The policy document (None: no policy, which grants nothing) and the ARN of
        the resource it is about; :class:`PolicyRefused` when the owner does not let
        recorder read it, :class:`PolicyUnreadable` when it could not be read."""
        region = arn_region(key.name, self.settings.aws_region)
        try:
            if key.resource is Resource.BUCKET:
                answer = await _read(
                    self.s3.get_bucket_policy(Bucket=key.name), "s3:GetBucketPolicy"
                )
                return (answer or {}).get("Policy"), ""
            if key.resource is Resource.KEY:
                kms = await self.clients.get("kms", region)
                described = await _read(kms.describe_key(KeyId=key.name), "kms:DescribeKey")
                arn = str((described or {})["KeyMetadata"]["Arn"])
                answer = await _read(
                    kms.get_key_policy(KeyId=arn, PolicyName="default"), "kms:GetKeyPolicy"
                )
                return (answer or {}).get("Policy"), arn
            sns = await self.clients.get("sns", region)
            answer = await _read(
                sns.get_topic_attributes(TopicArn=key.name), "sns:GetTopicAttributes"
            )
            return (answer or {}).get("Attributes", {}).get("Policy"), key.name
        except (ClientError, BotoCoreError, OSError, TimeoutError, KeyError) as exc:
            raise PolicyUnreadable(classify(exc).code) from exc


async def _read(call: Any, action: str) -> dict[str, Any] | None:
    """An answer; None when the owner answers that there is no policy, and
    :class:`PolicyRefused` when it does not let us read it."""
    try:
        return dict(await call)
    except ClientError as exc:
        if _code(exc) in NO_POLICY:
            return None
        if _code(exc) in REFUSED:
            raise PolicyRefused(action, _code(exc)) from exc
        raise


__all__ = ["GrantChecker", "Outcome", "PolicyRefused", "PolicyUnreadable", "owner_account"]
