"""Uploading cut batches: target, log file, S3 put, then notice and manifest.

Grants (issue 12): before a put or a publish the destination's policies are checked
(:mod:`recorder.delivery.grants`); a missing grant fails it as AWS would, and it is
parked like any other refusal.

Isolation (issue 11): the trail's target is resolved before an upload slot is taken;
a slot is held only for one put that botocore retries a bounded number of times; a
destination whose put still fails is parked (its batch moves to ``routed-retry``) and
its later batches are parked behind it without taking a slot, until the retries on
``routed-retry`` have delivered everything parked. Deliveries of one destination run
one at a time (a per-destination lock), which keeps its parked events in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from recorder.aws.times import parse_seconds
from recorder.delivery.batcher import Batch
from recorder.delivery.grants import GrantChecker
from recorder.delivery.logfile import LogFile, build_log_file
from recorder.delivery.naming import log_file_key
from recorder.delivery.notices import DeliveryFailed, Notifier, manifest, send_until_taken
from recorder.delivery.parking import ParkedFile, ParkedNotice
from recorder.delivery.retry import ParkingLot
from recorder.delivery.slots import FairSlots
from recorder.delivery.status import DeliveryStatus
from recorder.delivery.target import DeliveryTarget, TargetLookup
from recorder.obs.logging import get_logger
from recorder.obs.metrics import Metrics
from recorder.policies.requests import object_put_params
from recorder.retry import Failure, classify
from recorder.settings import Settings
from recorder.trails.destination import Destination

log = get_logger("recorder.writer")

#: What S3 and SNS answer a request the resource's policy does not allow.
REFUSALS = frozenset({"AccessDenied", "AuthorizationError", "KMS.AccessDeniedException"})
#: How long a batch of a trail this writer never knew waits for the registry.
TARGET_WAIT = 10.0


def aws_config(settings: Settings) -> Config:
    """botocore's retries for S3 and SNS: mode ``standard`` retries 5xx, throttling,
    timeouts and resets with capped exponential backoff and jitter; the time-outs
    bound how long one put can hold an upload slot."""
    return Config(
        retries={"mode": "standard", "max_attempts": settings.aws_max_attempts},
        connect_timeout=5,
        read_timeout=30,
    )


def build(batch: Batch, target: DeliveryTarget) -> tuple[str, LogFile]:
    """The log file of a batch and its object key (the same for the same batch)."""
    values: list[bytes] = []
    times: list[str] = []
    seen: set[str] = set()
    for _, r in batch.records:
        if r.event_id and r.event_id in seen:
            continue  # the same event routed twice to one destination
        seen.add(r.event_id)
        values.append(r.value)
        times.append(r.event_time)
    log_file = build_log_file(values, times)
    key = log_file_key(batch.destination, target.prefix, parse_seconds(batch.cut_time), batch.seed)
    return key, log_file


class Deliveries:
    def __init__(
        self,
        settings: Settings,
        targets: TargetLookup,
        metrics: Metrics,
        status: DeliveryStatus,
        s3: Any,
        notifier: Notifier,
        producer: Any,
        parking: ParkingLot,
        max_concurrent_puts: int,
        grants: GrantChecker,
    ) -> None:
        self.settings = settings
        self.targets = targets
        self.metrics = metrics
        self.status = status
        self.s3 = s3
        self.notifier = notifier
        self.producer = producer
        self.parking = parking
        self.grants = grants
        # per bucket a fair share of the puts at once: a bucket whose puts hang (until
        # botocore's time-outs) holds at most its share, never another's only slot
        self._slots = FairSlots(max_concurrent_puts)
        self._locks: dict[Destination, tuple[asyncio.Lock, int]] = {}
        self._last_known: dict[str, DeliveryTarget] = {}
        parking.retry_file = self.deliver_parked
        parking.retry_notice = self.notify_parked
        parking.lock = self.lock

    # -- targets ---------------------------------------------------------------------
    def known_target(self, trail_arn: str) -> DeliveryTarget | None:
        """The trail's target now, or its last known one (a deleted trail's events
        routed before DeleteTrail go where the trail delivered)."""
        target = self.targets(trail_arn)
        if target is not None:
            self._last_known[trail_arn] = target
            return target
        return self._last_known.get(trail_arn)

    async def resolve(self, trail_arn: str) -> DeliveryTarget | None:
        deadline = time.monotonic() + TARGET_WAIT
        delay = 0.2
        while (target := self.known_target(trail_arn)) is None:
            if time.monotonic() >= deadline:
                return None
            log.warning("trail_unknown_waiting", trail_arn=trail_arn)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
        return target

    @contextlib.asynccontextmanager
    async def lock(self, dest: Destination) -> AsyncIterator[None]:
        lock, users = self._locks.get(dest, (asyncio.Lock(), 0))
        self._locks[dest] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[dest]
            if users <= 1:
                del self._locks[dest]
            else:
                self._locks[dest] = (lock, users - 1)

    # -- the normal path ---------------------------------------------------------------
    async def deliver(self, batch: Batch) -> None:
        """Deliver or park one cut batch; returns once it is one or the other (the
        caller may then let the committed offset pass it)."""
        dest = batch.destination
        target = await self.resolve(dest.trail_arn)
        async with self.lock(dest):
            if target is None:
                await self.parking.park_file(batch, None, Failure("TrailNotFound", True))
                self.status.delivery_failed(dest.trail_arn, "TrailNotFound")
                return
            behind = self.parking.parked_error(batch.partition, dest)
            if behind is not None:
                await self.parking.park_file(batch, target, behind)
                return
            try:
                await self.grants.check_delivery(dest, target)  # before taking a slot
                async with self._slots.take(target.bucket):
                    key, log_file = await self._build(batch, target)
                    await self.put(target, key, log_file.gz, dest)
            except DeliveryFailed as exc:
                self.status.delivery_failed(dest.trail_arn, exc.status)
                await self.parking.park_file(batch, target, exc.failure)
                return
            await self._after_put(batch, target, key, log_file)

    async def _build(self, batch: Batch, target: DeliveryTarget) -> tuple[str, LogFile]:
        if sum(len(r.value) for _, r in batch.records) > 256 * 1024:
            return await asyncio.to_thread(build, batch, target)
        return build(batch, target)

    async def put(self, target: DeliveryTarget, key: str, body: bytes, dest: Destination) -> None:
        """A log file as CloudTrail puts it: the bucket owner's ACL, SSE-S3 or SSE-KMS
        with the trail's encryption context (what the guide's policies demand)."""
        extra = object_put_params(trail_arn=dest.trail_arn, kms_key_id=target.kms_key_id)
        try:
            await self.s3.put_object(
                Bucket=target.bucket,
                Key=key,
                Body=body,
                ContentType="application/json",
                ContentEncoding="gzip",
                **extra,
            )
        except (ClientError, BotoCoreError, OSError, TimeoutError) as exc:
            failure = classify(exc)
            self.metrics.writer_s3_errors.labels(failure.code).inc()
            log.warning("s3_put_failed", bucket=target.bucket, key=key, error=failure.code)
            if failure.code in REFUSALS:
                self.grants.distrust(self.grants.delivery_grants(dest, target))
            raise DeliveryFailed(failure) from exc

    async def _after_put(
        self, batch: Batch, target: DeliveryTarget, key: str, log_file: LogFile
    ) -> None:
        dest = batch.destination
        self.status.delivered(dest.trail_arn)
        if target.sns_topic_arn:
            await self._notify(batch.partition, dest, target.sns_topic_arn, target.bucket, key)
        await send_until_taken(
            self.producer,
            self.settings.topics.delivered,
            manifest(dest, target, key, log_file, batch.cut_time, batch.reason),
            what="manifest",
            key=dest.digest_key(),  # Insights files: in the trail's own digest chain
        )
        self.metrics.writer_files.inc()
        self.metrics.writer_bytes.inc(len(log_file.gz))
        self.metrics.writer_batch_records.observe(log_file.record_count)
        self.metrics.writer_delivered_events.labels(dest.trail_arn).inc(log_file.record_count)
        now = time.time()
        for t in {r.event_time for _, r in batch.records}:
            if t:
                self.metrics.delivery_latency.observe(max(0.0, now - parse_seconds(t).timestamp()))
        log.info(
            "log_file_delivered",
            trail_arn=dest.trail_arn,
            account_id=dest.account_id,
            region=dest.region,
            bucket=target.bucket,
            key=key,
            records=log_file.record_count,
            first_offset=batch.first_offset,
            partition=batch.partition,
        )

    async def _notify(
        self, partition: int, dest: Destination, topic_arn: str, bucket: str, key: str
    ) -> None:
        """Publish, or park the notice: the file is delivered either way."""
        behind = self.parking.parked_error(partition, dest, notice=True)
        if behind is None:
            try:
                await self.grants.check_notice(dest, topic_arn)
                await self._publish(dest, topic_arn, bucket, key)
                self.status.notified(dest.trail_arn)
                return
            except DeliveryFailed as exc:
                behind = exc.failure
                self.status.notification_failed(dest.trail_arn, exc.status)
        notice = ParkedNotice(dest, topic_arn, bucket, key, time.time(), behind.code)
        await self.parking.park_notice(partition, notice, behind)

    async def _publish(self, dest: Destination, topic_arn: str, bucket: str, key: str) -> None:
        try:
            await self.notifier.publish(topic_arn, bucket, key)
        except DeliveryFailed as exc:
            if exc.failure.code in REFUSALS:
                self.grants.distrust([self.grants.notice_grant(dest, topic_arn)])
            raise

    # -- retries from routed-retry (called by the parking lot, under the lock) -----------
    async def deliver_parked(self, parked: ParkedFile) -> None:
        dest = parked.destination
        target = self.known_target(dest.trail_arn) or parked.target
        if target is None:
            raise DeliveryFailed(Failure("TrailNotFound", True))
        batch = parked.to_batch()
        try:
            await self.grants.check_delivery(dest, target, retry=True)
            key, log_file = await self._build(batch, target)
            await self.put(target, key, log_file.gz, dest)
        except DeliveryFailed as exc:
            self.status.delivery_failed(dest.trail_arn, exc.status)
            raise
        await self._after_put(batch, target, key, log_file)

    async def notify_parked(self, notice: ParkedNotice) -> None:
        try:
            await self.grants.check_notice(notice.destination, notice.topic_arn, retry=True)
            await self._publish(notice.destination, notice.topic_arn, notice.bucket, notice.key)
        except DeliveryFailed as exc:
            self.status.notification_failed(notice.destination.trail_arn, exc.status)
            raise
        self.status.notified(notice.destination.trail_arn)
