"""The writer service: routed records in, CloudTrail log files in S3 out, exactly once.

Per assigned partition of ``routed`` a :class:`PartitionBatcher` decides cuts; this
module only moves bytes: it produces cut markers, writes each cut file to S3 (SSE-S3
or SSE-KMS), publishes the SNS notice, records the manifest on ``delivered``, and
commits an offset only once every record before it is in S3.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import aioboto3
import orjson
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError
from botocore.exceptions import BotoCoreError, ClientError

from recorder.delivery.batcher import MARKER_HEADER, Batch, CutMarker, PartitionBatcher, Routed
from recorder.delivery.logfile import build_log_file
from recorder.delivery.naming import Destination, log_file_key
from recorder.delivery.target import DeliveryTarget, TargetLookup
from recorder.kafka import clients
from recorder.kafka.dlq import send_dead_letter
from recorder.kafka.lag import record_lag
from recorder.kafka.partitions import OwnerListener, commit_committable, read_range, resume
from recorder.obs.logging import get_logger
from recorder.obs.metrics import Metrics
from recorder.settings import Settings

log = get_logger("recorder.writer")

GROUP_ID = "recorder-writer"
#: Per partition: how many recent (destination, eventID) pairs are remembered, so a
#: record routed twice (the router runs at least once) lands in one file only.
DEDUPE_WINDOW = 200_000
#: On revocation: how long deliveries under way may take before the commit.
HANDOVER_WAIT = 10.0


@dataclass
class TrailDeliveryStatus:
    """What GetTrailStatus reports of deliveries (LatestDelivery*)."""

    latest_delivery_time: str | None = None
    latest_delivery_error: str | None = None
    latest_notification_time: str | None = None
    latest_notification_error: str | None = None


def _now_str() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(value: str) -> dt.datetime:
    return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)


def _header(headers: Any, name: str) -> bytes | None:
    for k, v in headers or ():
        if k == name:
            return v  # type: ignore[no-any-return]
    return None


@dataclass
class Writer:
    settings: Settings
    targets: TargetLookup
    metrics: Metrics = field(default_factory=Metrics)
    group_id: str = GROUP_ID
    max_concurrent_puts: int = 8
    status: dict[str, TrailDeliveryStatus] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._batchers: dict[TopicPartition, PartitionBatcher] = {}
        self._committed: dict[TopicPartition, int] = {}
        self._seen: dict[TopicPartition, OrderedDict[tuple[bytes, bytes], None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(self.max_concurrent_puts)
        self._cutting = asyncio.Lock()  # held while cut markers are being produced
        self._stopping = False
        self.ready = asyncio.Event()

    # -- lifecycle ---------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        s = self.settings
        self._consumer = clients.consumer(s, group_id=self.group_id, max_poll_records=5000)
        self._producer = await self._start_producer()
        session = aioboto3.Session()
        kw = s.aws_client_kwargs()
        async with session.client("s3", **kw) as s3, session.client("sns", **kw) as sns:
            self._s3, self._sns = s3, sns
            await self._consumer.start()
            static = await clients.join(self._consumer, s, s.topics.routed, OwnerListener(self))
            if static is not None:
                await self.assign(static)
            self.ready.set()
            log.info("writer_started", topic=s.topics.routed, cut_interval=s.cut_interval)
            try:
                await self._loop(stop)
                await self._drain(within=max(10.0, s.cut_interval / 10))
            finally:
                for task in self._tasks:
                    task.cancel()
                with contextlib.suppress(Exception):
                    await self._consumer.stop()
                with contextlib.suppress(Exception):
                    await self._producer.stop()

    async def _start_producer(self) -> AIOKafkaProducer:
        """Idempotent where the broker has it. Without it (tansu) a retried send may
        write a marker twice; the repeat names records the first one already took, so
        it cuts nothing and replays decide the same."""
        producer = clients.producer(self.settings, enable_idempotence=True)
        try:
            await asyncio.wait_for(producer.start(), 15)
            return producer
        except (KafkaError, TimeoutError) as exc:
            with contextlib.suppress(Exception):
                await producer.stop()
            log.warning("writer_idempotence_unavailable", error=repr(exc))
        producer = clients.producer(self.settings)
        await producer.start()
        return producer

    async def _loop(self, stop: asyncio.Event) -> None:
        interval = self.settings.cut_interval
        last_lag = 0.0
        while not stop.is_set():
            await self._poll_once()
            await self._request_cuts(time.monotonic(), interval)
            await self._commit()
            if time.monotonic() - last_lag > 1.0:
                last_lag = time.monotonic()
                await record_lag(self._consumer, self.metrics, "writer")

    async def _drain(self, within: float) -> None:
        """SIGTERM: cut every open batch, deliver it and commit, within ``within`` s."""
        self._stopping = True
        deadline = time.monotonic() + within
        flushed = False
        while time.monotonic() < deadline:
            if not flushed:
                await self._request_cuts(time.monotonic(), self.settings.cut_interval, flush=True)
                flushed = True
            await self._poll_once(timeout_ms=100)
            await self._request_cuts(time.monotonic(), self.settings.cut_interval, flush=True)
            await self._commit()
            if all(b.idle() for b in self._batchers.values()) and not self._tasks:
                break
        await self._commit()
        log.info("writer_drained", idle=all(b.idle() for b in self._batchers.values()))

    # -- partitions --------------------------------------------------------------------
    async def assign(self, partitions: list[TopicPartition]) -> None:
        s = self.settings
        for tp, r in (await resume(self._consumer, partitions, self.settings)).items():
            start = r.start
            self._committed[tp] = start
            self._seen[tp] = await self._recall_seen(tp, max(r.begin, start - DEDUPE_WINDOW), start)
            self._batchers[tp] = PartitionBatcher(
                tp.partition,
                start,
                caught_up_at=r.end,
                max_records=s.batch_max_records,
                max_bytes=s.batch_max_bytes,
            )
            log.info("partition_assigned", partition=tp.partition, start=start, end=r.end)

    async def _recall_seen(
        self, tp: TopicPartition, start: int, end: int
    ) -> OrderedDict[tuple[bytes, bytes], None]:
        """The (destination, eventID) pairs just before ``end``: the dedupe window a
        replay from ``end`` needs to decide exactly as the first run did."""
        seen: OrderedDict[tuple[bytes, bytes], None] = OrderedDict()
        async for m in read_range(self.settings, tp, start, end):
            event_id = _header(m.headers, "eventID")
            if event_id and _header(m.headers, MARKER_HEADER) is None:
                seen[(m.key or b"", event_id)] = None
        return seen

    def revoke(self, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            self._seen.pop(tp, None)
            self._batchers.pop(tp, None)
            self._committed.pop(tp, None)
            log.info("partition_revoked", partition=tp.partition)

    # -- reading -----------------------------------------------------------------------
    async def _poll_once(self, timeout_ms: int = 200) -> None:
        batches = await self._consumer.getmany(timeout_ms=timeout_ms, max_records=5000)
        now = time.monotonic()
        for tp, messages in batches.items():
            batcher = self._batchers.get(tp)
            if batcher is None:
                continue
            for m in messages:
                if _header(m.headers, MARKER_HEADER) is not None:
                    await self._on_marker(tp, batcher, m)
                    continue
                try:
                    dest = Destination.from_key(m.key or b"")
                    event_time = (_header(m.headers, "eventTime") or b"").decode()
                    event_id = (_header(m.headers, "eventID") or b"").decode()
                    if not m.value or m.value[:1] != b"{":
                        raise ValueError("routed value is not a rendered CloudTrail record")
                except (ValueError, UnicodeDecodeError) as exc:
                    await self._dead_letter(tp, m, str(exc), "undecodable")
                    batcher.skip(m.offset)
                    continue
                seen = self._seen.setdefault(tp, OrderedDict())
                pair = (m.key or b"", event_id.encode())
                if event_id and pair in seen:
                    batcher.skip(m.offset)  # routed twice: already in this or an earlier file
                    self.metrics.writer_duplicates.inc()
                    continue
                if event_id:
                    seen[pair] = None
                    if len(seen) > DEDUPE_WINDOW:
                        seen.popitem(last=False)
                batcher.add(m.offset, dest, Routed(m.value, event_time, event_id), now)
                self.metrics.writer_records_in.inc()
        self.metrics.writer_open_batches.set(
            sum(b.open_destinations for b in self._batchers.values())
        )

    async def _on_marker(self, tp: TopicPartition, batcher: PartitionBatcher, m: Any) -> None:
        try:
            marker = CutMarker.from_record(m.key or b"", m.value or b"")
        except (ValueError, KeyError, orjson.JSONDecodeError) as exc:
            await self._dead_letter(tp, m, f"bad cut marker: {exc}", "bad-marker")
            batcher.skip(m.offset)
            return
        batch = batcher.on_marker(m.offset, marker)
        if batch is not None:
            task = asyncio.create_task(self._deliver(tp, batcher, batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _dead_letter(self, tp: TopicPartition, m: Any, reason: str, kind: str) -> None:
        await send_dead_letter(
            self._producer,
            self.settings.topics.dlq,
            self.metrics,
            stage="writer",
            reason=reason,
            kind=kind,
            topic=tp.topic,
            partition=tp.partition,
            offset=m.offset,
            key=m.key,
            value=m.value,
        )

    # -- cutting ----------------------------------------------------------------------
    async def _request_cuts(self, now: float, interval: float, *, flush: bool = False) -> None:
        async with self._cutting:
            await self._request_cuts_locked(now, interval, flush=flush)

    async def _request_cuts_locked(self, now: float, interval: float, *, flush: bool) -> None:
        for tp, batcher in list(self._batchers.items()):
            for req in batcher.due(now, interval, flush=flush):
                marker = CutMarker(
                    req.destination, req.first_offset, req.last_offset, _now_str(), req.reason
                )
                try:
                    await self._producer.send_and_wait(
                        tp.topic,
                        marker.to_bytes(),
                        key=req.destination.key(),
                        partition=tp.partition,
                        headers=[(MARKER_HEADER, b"1")],
                    )
                except KafkaError as exc:
                    log.warning("cut_marker_failed", partition=tp.partition, error=repr(exc))
                    batcher.cancel_request(req.destination)

    # -- delivering -------------------------------------------------------------------
    async def _deliver(self, tp: TopicPartition, batcher: PartitionBatcher, batch: Batch) -> None:
        dest = batch.destination
        async with self._slots:
            target = await self._target(dest.trail_arn)
            values: list[bytes] = []
            times: list[str] = []
            seen: set[str] = set()
            for _, r in batch.records:
                if r.event_id and r.event_id in seen:
                    continue  # the same event routed twice to one destination
                seen.add(r.event_id)
                values.append(r.value)
                times.append(r.event_time)
            if sum(len(v) for v in values) > 256 * 1024:
                log_file = await asyncio.to_thread(build_log_file, values, times)
            else:
                log_file = build_log_file(values, times)
            key = log_file_key(dest, target.prefix, _parse_time(batch.cut_time), batch.seed)
            await self._put(dest, target, key, log_file.gz)
            if target.sns_topic_arn:
                await self._notify(dest, target, key)
            manifest = {
                "trailARN": dest.trail_arn,
                "accountId": dest.account_id,
                "region": dest.region,
                "orgId": dest.org_id,
                "bucket": target.bucket,
                "key": key,
                "sha256": log_file.sha256,
                "oldestEventTime": log_file.oldest_event_time,
                "newestEventTime": log_file.newest_event_time,
                "deliveryTime": batch.cut_time,
                "cutReason": batch.reason,
                "recordCount": log_file.record_count,
            }
            await self._retry(
                "manifest",
                dest,
                lambda: self._producer.send_and_wait(
                    self.settings.topics.delivered, orjson.dumps(manifest), key=dest.digest_key()
                ),
            )
        batcher.delivered(batch)
        self.metrics.writer_files.inc()
        self.metrics.writer_bytes.inc(len(log_file.gz))
        self.metrics.writer_batch_records.observe(log_file.record_count)
        now = time.time()
        for t in set(times):
            if t:
                self.metrics.delivery_latency.observe(max(0.0, now - _parse_time(t).timestamp()))
        log.info(
            "log_file_delivered",
            trail_arn=dest.trail_arn,
            account_id=dest.account_id,
            region=dest.region,
            bucket=target.bucket,
            key=key,
            records=log_file.record_count,
            first_offset=batch.first_offset,
            partition=tp.partition,
        )

    async def _target(self, trail_arn: str) -> DeliveryTarget:
        delay = 0.2
        while True:
            target = self.targets(trail_arn)
            if target is not None:
                return target
            log.warning("trail_unknown_waiting", trail_arn=trail_arn)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)

    async def _put(self, dest: Destination, target: DeliveryTarget, key: str, body: bytes) -> None:
        extra: dict[str, str] = {"ServerSideEncryption": "AES256"}
        if target.kms_key_id:
            extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": target.kms_key_id}

        async def put() -> None:
            await self._s3.put_object(
                Bucket=target.bucket,
                Key=key,
                Body=body,
                ContentType="application/json",
                ContentEncoding="gzip",
                **extra,
            )
            self._status(dest.trail_arn).latest_delivery_time = _now_str()
            self._status(dest.trail_arn).latest_delivery_error = None

        await self._retry("s3", dest, put)

    async def _notify(self, dest: Destination, target: DeliveryTarget, key: str) -> None:
        message = orjson.dumps({"s3Bucket": target.bucket, "s3ObjectKey": [key]}).decode()

        async def publish() -> None:
            await self._sns.publish(TopicArn=target.sns_topic_arn, Message=message)
            self._status(dest.trail_arn).latest_notification_time = _now_str()
            self._status(dest.trail_arn).latest_notification_error = None

        await self._retry("sns", dest, publish)

    def _status(self, trail_arn: str) -> TrailDeliveryStatus:
        return self.status.setdefault(trail_arn, TrailDeliveryStatus())

    async def _retry(self, what: str, dest: Destination, op: Any) -> None:
        """Retry with capped exponential backoff until it works: a batch is never dropped."""
        delay = 0.1
        while True:
            try:
                await op()
                return
            except (ClientError, BotoCoreError, KafkaError, OSError, TimeoutError) as exc:
                code = (
                    exc.response.get("Error", {}).get("Code", "Unknown")
                    if isinstance(exc, ClientError)
                    else type(exc).__name__
                )
                if what == "s3":
                    self.metrics.writer_s3_errors.labels(code).inc()
                    self._status(dest.trail_arn).latest_delivery_error = code
                elif what == "sns":
                    self.metrics.writer_sns_errors.labels(code).inc()
                    self._status(dest.trail_arn).latest_notification_error = code
                log.warning(
                    f"{what}_failed_retrying", trail_arn=dest.trail_arn, error=code, retry_in=delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    # -- committing -------------------------------------------------------------------
    async def _commit(self) -> None:
        await commit_committable(
            self._consumer, {tp: b.committable for tp, b in self._batchers.items()}, self._committed
        )

    async def commit(self) -> None:
        """Before partitions move to another member (the rebalance listener; then
        :meth:`revoke`). No cut marker may still be on its way: the new owner reads
        the partition up to the end it sees on assignment before it requests cuts of
        its own, so every marker written before that end is one it reads first. Files
        being written are given a moment to land, so the commit covers them and the
        new owner need not write them again (it would write the same keys)."""
        async with self._cutting:
            if self._tasks:
                await asyncio.wait(set(self._tasks), timeout=HANDOVER_WAIT)
            await self._commit()
