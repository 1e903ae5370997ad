"""The writer's grant checks: does the destination's owner still grant CloudTrail?

CreateTrail and UpdateTrail check a trail's bucket, topic and key policies
(:mod:`recorder.api.checks`), but an owner may take the grant back later; AWS would
then refuse CloudTrail's writes, and recorder, which writes with its own identity,
must refuse them itself. Before a delivery the writer asks :class:`GrantChecker`;
when the policy is due (:mod:`recorder.delivery.grantbook` decides when) it reads it
(``GetBucketPolicy``, the topic's ``Policy`` attribute, ``GetKeyPolicy``) with the
writer's own clients and evaluates it with :mod:`recorder.policies`. A missing bucket
or key grant fails the put as ``AccessDenied``, a missing topic grant fails the
notice as ``AuthorizationError``: both are permanent, so the batch or notice is
parked exactly as a refusal by AWS would park it, and GetTrailStatus names the grant.

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
    status_text,
)
from recorder.delivery.notices import DeliveryFailed
from recorder.delivery.regional import RegionalClients, arn_region
from recorder.delivery.target import DeliveryTarget
from recorder.obs.logging import get_logger
from recorder.obs.metrics import Metrics
from recorder.policies import bucket_grant_problem, key_grant_problem, topic_grant_problem
from recorder.retry import Failure, classify
from recorder.settings import Settings
from recorder.trails.destination import Destination

log = get_logger("recorder.writer")

#: Answers of the owner that mean "no policy grants you anything" (as the API reads them).
NO_POLICY = frozenset(
    {"NoSuchBucketPolicy", "AccessDenied", "403", "AccessDeniedException", "AuthorizationError"}
)
#: How often unused answers are forgotten (seconds).
FORGET_EVERY = 3600.0


class PolicyUnreadable(Exception):
    """The policy could not be read (5xx, throttling, connection, resource gone)."""


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
        self.book = GrantBook(settings.grant_recheck_interval)
        self._clock = clock
        self._checking: dict[GrantKey, asyncio.Future[None]] = {}
        self._forgot_at = clock()

    # -- what the deliveries ask -------------------------------------------------------
    async def check_delivery(
        self, dest: Destination, target: DeliveryTarget, *, retry: bool = False
    ) -> None:
        """Raises :class:`DeliveryFailed` (``AccessDenied``) when the bucket's or the
        key's policy does not grant CloudTrail what this delivery needs."""
        account = owner_account(dest.trail_arn)
        await self._require(
            GrantKey(
                Resource.BUCKET, target.bucket, account, dest.trail_arn, target.prefix, dest.org_id
            ),
            retry,
        )
        if target.kms_key_id:
            await self._require(
                GrantKey(Resource.KEY, target.kms_key_id, account, dest.trail_arn), retry
            )

    async def check_notice(self, dest: Destination, topic_arn: str, *, retry: bool = False) -> None:
        """Raises :class:`DeliveryFailed` (``AuthorizationError``) when the topic's
        policy does not let CloudTrail publish."""
        account = owner_account(dest.trail_arn)
        await self._require(GrantKey(Resource.TOPIC, topic_arn, account, dest.trail_arn), retry)

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
            policy, resource_arn = await self._fetch(key)
            problem = self._judge(key, policy, resource_arn)
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
        else:
            outcome = self.book.record(key, problem, now)
            if problem is not None:
                log.warning(
                    "grant_missing",
                    trail_arn=key.trail_arn,
                    resource=key.resource.value,
                    name=key.name,
                    missing=problem,
                )
            elif before is not None:
                log.info(
                    "grant_restored",
                    trail_arn=key.trail_arn,
                    resource=key.resource.value,
                    name=key.name,
                )
        self.metrics.writer_grant_checks.labels(key.resource.value, outcome.value).inc()
        if now - self._forgot_at > FORGET_EVERY:
            self._forgot_at = now
            self.book.forget_unused(now)

    @staticmethod
    def _judge(key: GrantKey, policy: str | None, resource_arn: str) -> str | None:
        if key.resource is Resource.BUCKET:
            return bucket_grant_problem(
                policy, key.name, key.prefix, key.account_id, key.trail_arn, key.organization_id
            )
        if key.resource is Resource.KEY:
            return key_grant_problem(policy, resource_arn, key.account_id, key.trail_arn)
        return topic_grant_problem(policy, resource_arn, key.account_id, key.trail_arn)

    async def _fetch(self, key: GrantKey) -> tuple[str | None, str]:
        """The policy document (None: no policy, which grants nothing) and the ARN of
        the resource it is about."""
        region = arn_region(key.name, self.settings.aws_region)
        try:
            if key.resource is Resource.BUCKET:
                return await _or_none(self.s3.get_bucket_policy(Bucket=key.name), "Policy"), ""
            if key.resource is Resource.KEY:
                kms = await self.clients.get("kms", region)
                arn = str((await kms.describe_key(KeyId=key.name))["KeyMetadata"]["Arn"])
                policy = await _or_none(kms.get_key_policy(KeyId=arn, PolicyName="default"))
                return policy, arn
            sns = await self.clients.get("sns", region)
            attributes = await _or_none(sns.get_topic_attributes(TopicArn=key.name), "Attributes")
            return (attributes or {}).get("Policy"), key.name  # type: ignore[union-attr]
        except (ClientError, BotoCoreError, OSError, TimeoutError) as exc:
            raise PolicyUnreadable(classify(exc).code) from exc


async def _or_none(call: Any, field: str = "Policy") -> Any:
    """The ``field`` of an answer; None when the owner answers that there is no policy
    (or that we may not read it: then it grants us nothing we can rely on)."""
    try:
        answer = await call
    except ClientError as exc:
        if _code(exc) in NO_POLICY:
            return None
        raise
    return answer.get(field)


__all__ = ["GrantChecker", "Outcome", "PolicyUnreadable", "owner_account"]
