"""The digester service: ``delivered`` manifests in, signed hourly digests in S3 out.

Per assigned partition of ``delivered`` a :class:`PartitionWindows` decides which
digest lists which log files (via markers in the partition); this module moves the
bytes: it signs with the region's key ring, puts the digest object (signature in
its metadata), records the chain's new state on the compacted ``digest-state``
topic, and commits offsets only after both.

Chain state survives restarts: every process reads ``digest-state`` in full at
start, so the next digest links to the last one written, whoever wrote it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any

import aioboto3
import orjson
from aiokafka import TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.partitioner import DefaultPartitioner
from botocore.exceptions import BotoCoreError, ClientError

from recorder.delivery.naming import Destination
from recorder.integrity.chain import ChainState, StaleWindowError, next_digest
from recorder.integrity.closing import MARKER_HEADER, ClosedWindow, PartitionWindows, WindowMarker
from recorder.integrity.keystore import KeyStore
from recorder.integrity.manifest import LogFileManifest
from recorder.integrity.naming import ChainId
from recorder.integrity.times import format_time
from recorder.kafka import clients
from recorder.kafka.lag import record_lag
from recorder.kafka.partitions import OwnerListener, commit_committable, resume
from recorder.obs.logging import get_logger
from recorder.obs.metrics import Metrics
from recorder.settings import Settings

log = get_logger("recorder.digester")

GROUP_ID = "recorder-digester"


@dataclass
class DigestStatus:
    latest_digest_delivery_time: str | None = None
    latest_digest_delivery_error: str | None = None


def _chain_key(chain: ChainId) -> bytes:
    return Destination(chain.trail_arn, chain.account_id, chain.region, chain.org_id).key()


@dataclass
class Digester:
    settings: Settings
    registry: Any  # TrailRegistry: get(arn) -> Trail | None, target(arn) -> DeliveryTarget | None
    metrics: Metrics = field(default_factory=Metrics)
    group_id: str = GROUP_ID
    status: dict[str, DigestStatus] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.ready = asyncio.Event()
        self.states: dict[ChainId, ChainState] = {}
        self._windows: dict[TopicPartition, PartitionWindows] = {}
        self._committed: dict[TopicPartition, int] = {}
        self._partitioner = DefaultPartitioner()
        self.interval = dt.timedelta(seconds=self.settings.digest_interval)
        self.grace = dt.timedelta(seconds=min(60.0, self.settings.digest_interval / 10))

    async def run(self, stop: asyncio.Event) -> None:
        s = self.settings
        session = aioboto3.Session()
        kw = s.aws_client_kwargs()
        async with session.client("s3", **kw) as s3, session.client("kms", **kw) as kms:
            self._s3 = s3
            self.keys = KeyStore(s, s3, kms)
            await self.keys.ensure_storage()
            self._producer = clients.producer(s, enable_idempotence=True)
            await self._producer.start()
            await self._load_states()
            self._consumer = clients.consumer(s, group_id=self.group_id)
            await self._consumer.start()
            static = await clients.join(self._consumer, s, s.topics.delivered, OwnerListener(self))
            if static is not None:
                await self.assign(static)
            self.ready.set()
            log.info("digester_started", interval=s.digest_interval)
            try:
                last_lag = 0.0
                while not stop.is_set():
                    await self._poll_once()
                    await self._close_due()
                    await self._commit()
                    if time.monotonic() - last_lag > 1.0:
                        last_lag = time.monotonic()
                        await record_lag(self._consumer, self.metrics, "digester")
            finally:
                with contextlib.suppress(Exception):
                    await self._consumer.stop()
                with contextlib.suppress(Exception):
                    await self._producer.stop()

    # -- chain state ------------------------------------------------------------------
    async def _load_states(self) -> None:
        consumer = clients.consumer(self.settings, group_id=None)
        await consumer.start()
        try:
            tp = TopicPartition(self.settings.topics.digest_state, 0)
            consumer.assign([tp])
            await consumer.seek_to_beginning(tp)
            end = (await consumer.end_offsets([tp]))[tp]
            position = 0
            while position < end:
                batch = await consumer.getmany(tp, timeout_ms=1000)
                for m in batch.get(tp, []):
                    position = m.offset + 1
                    if m.value is not None:
                        state = ChainState.from_json(orjson.loads(m.value))
                        self.states[state.chain] = state
        finally:
            await consumer.stop()
        log.info("digest_chains_loaded", chains=len(self.states))

    async def _save_state(self, state: ChainState) -> None:
        await self._producer.send_and_wait(
            self.settings.topics.digest_state,
            orjson.dumps(state.to_json()),
            key=_chain_key(state.chain),
            partition=0,
        )
        self.states[state.chain] = state

    # -- partitions ---------------------------------------------------------------------
    async def assign(self, partitions: list[TopicPartition]) -> None:
        for tp, r in (await resume(self._consumer, partitions, self.settings)).items():
            self._committed[tp] = r.start
            self._windows[tp] = PartitionWindows(tp.partition, r.start, caught_up_at=r.end)

    def revoke(self, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            self._windows.pop(tp, None)
            self._committed.pop(tp, None)

    def _partition_of(self, chain: ChainId, n: int) -> int:
        return int(self._partitioner(_chain_key(chain), list(range(n)), list(range(n))))

    # -- reading --------------------------------------------------------------------------
    async def _poll_once(self) -> None:
        batches = await self._consumer.getmany(timeout_ms=200, max_records=5000)
        for tp, messages in batches.items():
            windows = self._windows.get(tp)
            if windows is None:
                continue
            for m in messages:
                is_marker = any(k == MARKER_HEADER for k, _ in m.headers or ())
                try:
                    if is_marker:
                        marker = WindowMarker.from_bytes(m.value)
                    else:
                        manifest = LogFileManifest.from_json(orjson.loads(m.value))
                except (ValueError, KeyError, TypeError) as exc:
                    log.error(
                        "digester_bad_record",
                        partition=tp.partition,
                        offset=m.offset,
                        error=str(exc),
                    )
                    windows.skip(m.offset)
                    continue
                if is_marker:
                    closed = windows.on_marker(m.offset, marker, self.states.get(marker.chain))
                    if closed is not None:
                        await self._write(windows, closed)
                elif self._validated(manifest.trail_arn):
                    windows.add(m.offset, manifest)
                else:
                    windows.skip(m.offset)

    def _validated(self, trail_arn: str) -> bool:
        trail = self.registry.get(trail_arn)
        return trail is None or bool(trail.log_file_validation_enabled)

    def _ended(self) -> frozenset[str]:
        ended = set()
        for chain in self.states:
            trail = self.registry.get(chain.trail_arn)
            if trail is None or not trail.is_logging or not trail.log_file_validation_enabled:
                ended.add(chain.trail_arn)
        return frozenset(ended)

    # -- closing windows --------------------------------------------------------------
    async def _close_due(self) -> None:
        if not self._windows:
            return
        now = dt.datetime.now(dt.UTC)
        n = len(self._consumer.partitions_for_topic(self.settings.topics.delivered) or [0]) or 1
        ended = self._ended()
        for tp, windows in list(self._windows.items()):
            here = [
                c
                for c, s in self.states.items()
                if s.previous is not None and self._partition_of(c, n) == tp.partition
            ]
            for marker in windows.due(
                now, self.states, here, interval=self.interval, grace=self.grace, ended=ended
            ):
                try:
                    await self._producer.send_and_wait(
                        tp.topic,
                        marker.to_bytes(),
                        key=_chain_key(marker.chain),
                        partition=tp.partition,
                        headers=[(MARKER_HEADER, b"1")],
                    )
                except KafkaError as exc:
                    log.warning("digest_marker_failed", error=repr(exc))
                    windows.cancel(marker.chain)

    async def _write(self, windows: PartitionWindows, closed: ClosedWindow) -> None:
        chain = closed.chain
        target = self.registry.target(chain.trail_arn)
        state = self.states.get(chain) or ChainState(chain)
        delay = 0.2
        while True:
            try:
                bucket = (
                    target.bucket if target else (state.previous.bucket if state.previous else None)
                )
                if bucket is None:
                    log.warning("digest_skipped_unknown_trail", trail_arn=chain.trail_arn)
                    windows.written(closed)
                    return
                signer = await self.keys.signer(chain.region, dt.datetime.now(dt.UTC))
                artifact, new_state = next_digest(
                    state,
                    closed.window,
                    closed.files,
                    signer,
                    bucket=bucket,
                    prefix=target.prefix if target else None,
                    final=closed.final,
                )
                await self._s3.put_object(**artifact.put_object_kwargs())
                await self._save_state(new_state)
                break
            except StaleWindowError:
                break  # written before a crash; the state already links past it
            except (ClientError, BotoCoreError, KafkaError, OSError) as exc:
                code = (
                    exc.response.get("Error", {}).get("Code", "Unknown")
                    if isinstance(exc, ClientError)
                    else type(exc).__name__
                )
                self._status(chain.trail_arn).latest_digest_delivery_error = code
                log.warning(
                    "digest_put_failed_retrying",
                    trail_arn=chain.trail_arn,
                    error=code,
                    retry_in=delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
        windows.written(closed)
        st = self._status(chain.trail_arn)
        st.latest_digest_delivery_time = format_time(dt.datetime.now(dt.UTC))
        st.latest_digest_delivery_error = None
        log.info(
            "digest_delivered",
            trail_arn=chain.trail_arn,
            account_id=chain.account_id,
            region=chain.region,
            key=artifact.key if "artifact" in locals() else None,
            files=len(closed.files),
            final=closed.final,
            start=format_time(closed.window.start),
            end=format_time(closed.window.end),
        )

    def _status(self, trail_arn: str) -> DigestStatus:
        return self.status.setdefault(trail_arn, DigestStatus())

    async def _commit(self) -> None:
        await commit_committable(
            self._consumer, {tp: w.committable for tp, w in self._windows.items()}, self._committed
        )

    commit = _commit


def create(settings: Settings, registry: Any, metrics: Metrics) -> Digester:
    """Entry point for ``recorder run digester``."""
    return Digester(settings, registry, metrics)
