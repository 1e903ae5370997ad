"""The digester service: ``delivered`` manifests in, signed hourly digests in S3 out.

Per assigned partition of ``delivered`` a :class:`PartitionWindows` decides which
digest lists which log files (via markers in the partition); this module moves the
bytes: it signs with the region's key ring, puts the digest object (signature in
its metadata), records the chain's new state on the compacted ``digest-state``
topic, and commits offsets only after both.

Chain state moves with the chains: a process reads ``digest-state`` at start and
again, from where it stopped, whenever partitions are assigned to it, so a chain that
moves here after a rebalance continues from the last digest written, whoever wrote
it. Every digest is put with ``If-None-Match: *``: a key that exists is never
overwritten; the object found there is compared (:func:`~recorder.integrity.chain.
after_conflict`) and either is this very digest (a replay) or another digester's,
which the chain then continues from. Before partitions move away the digest being
written is finished (:meth:`Digester.commit`), so the next owner reads its state.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from dataclasses import dataclass, field, replace
from typing import Any

import aioboto3
import orjson
from aiokafka import TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.partitioner import DefaultPartitioner
from botocore.exceptions import BotoCoreError, ClientError

from recorder.integrity import tlog
from recorder.integrity.chain import (
    ChainState,
    DigestArtifact,
    StaleWindowError,
    after_conflict,
    next_backfill,
    next_digest,
)
from recorder.integrity.closing import (
    MARKER_HEADER,
    ClosedWindow,
    Fence,
    PartitionWindows,
    WindowMarker,
)
from recorder.integrity.keystore import KeyStore
from recorder.integrity.logs import MerkleLogs, Plan, checkpoint, grown
from recorder.integrity.manifest import LogFileManifest
from recorder.integrity.naming import digest_key
from recorder.integrity.signing import NoSigningKeyError
from recorder.integrity.times import format_time, parse_time
from recorder.kafka import clients
from recorder.kafka.lag import record_lag
from recorder.kafka.pacing import Pacer, Pauses
from recorder.kafka.partitions import OwnerListener, commit_committable, read_range, resume
from recorder.kafka.watermarks import CutMarks, Mark, is_watermark
from recorder.obs.logging import get_logger
from recorder.obs.metrics import Metrics
from recorder.retry import classify, retry_delay
from recorder.settings import Settings
from recorder.trails.destination import EVENTS, KINDS, Destination

log = get_logger("recorder.digester")

GROUP_ID = "recorder-digester"
POLL_RECORDS = 5000
#: What S3 answers a conditional put whose key exists.
PRECONDITION_FAILED = frozenset({"PreconditionFailed", "412"})


class DigestKeyTaken(RuntimeError):
    """The digest's key holds an object that is no digest of the chain at that place
    (someone else's object): nothing to adopt; the write is retried, then parked."""


@dataclass
class DigestStatus:
    latest_digest_delivery_time: str | None = None
    latest_digest_delivery_error: str | None = None


def _chain_key(chain: Destination) -> bytes:
    """The chain's ``delivered`` key: the partition holding its files."""
    return chain.digest_key()


@dataclass
class _Retry:
    """A closed window whose digest could not be written yet."""

    windows: PartitionWindows
    closed: ClosedWindow
    attempts: int
    next_at: float  # monotonic
    parked: bool = False


@dataclass
class Digester:
    settings: Settings
    registry: Any  # TrailRegistry: get(arn) -> Trail | None, target(arn) -> DeliveryTarget | None
    metrics: Metrics = field(default_factory=Metrics)
    group_id: str = GROUP_ID
    status: dict[str, DigestStatus] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.ready = asyncio.Event()
        self.states: dict[Destination, ChainState] = {}
        self.interval = dt.timedelta(seconds=self.settings.digest_interval)
        self.grace = dt.timedelta(seconds=min(60.0, self.settings.digest_interval / 10))
        self.final_wait = dt.timedelta(seconds=self.settings.digest_final_wait)
        self._partitioner = DefaultPartitioner()
        self._partition: dict[Destination, int] = {}  # cached: murmur2 once per chain
        self._n_partitions = 0
        self._here: dict[int, set[Destination]] = {}  # partition -> chains with a state
        self._state_position = 0  # how far digest-state has been read
        self._writing = asyncio.Lock()  # held while a digest is written
        self._reset()

    def _reset(self) -> None:
        """Per-run state: a restarted run (supervision) begins from the committed offsets."""
        self._windows: dict[TopicPartition, PartitionWindows] = {}
        self._committed: dict[TopicPartition, int] = {}
        self._retry: dict[tuple[Destination, bool], _Retry] = {}  # (chain, backfill)
        self._ended: dict[str, dt.datetime] = {}  # trail ARN -> when it ended
        self._cut_marks: dict[TopicPartition, CutMarks] = {}  # writers' marks, per partition
        self._registry_version = -1
        self._regions: set[str] = set()
        self.ready.clear()

    async def run(self, stop: asyncio.Event) -> None:
        s = self.settings
        self._reset()
        session = aioboto3.Session()
        kw = s.aws_client_kwargs()
        async with session.client("s3", **kw) as s3, session.client("kms", **kw) as kms:
            self._s3 = s3
            self.keys = KeyStore(s, s3, kms)
            self._logs = MerkleLogs(s3, self.metrics)
            await self.keys.ensure_storage()
            self._producer = await clients.started_producer(s, "digester")
            try:
                self.states.clear()
                self._here = {}
                self._state_position = 0
                await self._load_states()
                # Keys before they are needed: every region with a chain, and ours.
                for region in sorted({s.aws_region, *(c.region for c in self.states)}):
                    await self._prepare_keys(region)
                self._consumer = clients.consumer(s, group_id=self.group_id)
                self._pauses = Pauses(self._consumer)
                self._pacer = Pacer(self._consumer, self._pauses, s.poll_linger, POLL_RECORDS)
                await self._consumer.start()
            except BaseException:
                with contextlib.suppress(Exception):
                    await self._producer.stop()
                raise
            static = await clients.join(
                self._consumer, s, s.topics.delivered, OwnerListener(self), self._pauses
            )
            if static is not None:
                await self.assign(static)
            self.ready.set()
            log.info("digester_started", interval=s.digest_interval, chains=len(self.states))
            try:
                last_lag = 0.0
                while not stop.is_set():
                    await self._poll_once()
                    self._follow_trails()
                    await self._close_due()
                    await self._retry_due()
                    await self._commit()
                    if time.monotonic() - last_lag > 1.0:
                        last_lag = time.monotonic()
                        await record_lag(self._consumer, self.metrics, "digester")
                        self.metrics.digester_chains.set(len(self.states))
                        self._undelivered_age()
            finally:
                self.ready.clear()
                with contextlib.suppress(Exception):
                    await self._consumer.stop()
                with contextlib.suppress(Exception):
                    await self._producer.stop()

    async def _prepare_keys(self, region: str) -> None:
        """Make the region's key ring now, so the first window to close has a key."""
        if region in self._regions:
            return
        try:
            await self.keys.prepare(region, dt.datetime.now(dt.UTC))
        except (ClientError, BotoCoreError, OSError, ValueError) as exc:
            # Not fatal: signing tries again, and parks the chain if it still fails.
            log.warning("signing_keys_not_ready", region=region, error=classify(exc).code)
            return
        self._regions.add(region)

    # -- chain state ------------------------------------------------------------------
    async def _load_states(self) -> None:
        """Read ``digest-state`` from where the last read stopped to its end.

        At start that is all of it; on assignment, what other digesters wrote since
        (the chains that move here). A record never takes a chain back to an older
        digest than the one known here (a late write of an owner that lost the chain).
        """
        tp = TopicPartition(self.settings.topics.digest_state, 0)
        read = 0
        async for m in read_range(self.settings, tp, self._state_position):
            self._state_position = m.offset + 1
            if m.value is not None:
                state = ChainState.from_json(orjson.loads(m.value))
                if not _older(state, self.states.get(state.chain)):
                    self._set_state(state)
                read += 1
            if read % 1000 == 999:
                await asyncio.sleep(0)  # heartbeats run on this loop too
        log.info("digest_chains_loaded", chains=len(self.states), read=read)

    async def _save_state(self, state: ChainState) -> None:
        await self._producer.send_and_wait(
            self.settings.topics.digest_state,
            orjson.dumps(state.to_json()),
            key=_chain_key(state.chain),
            partition=0,
        )
        self._set_state(state)

    def _set_state(self, state: ChainState) -> None:
        self.states[state.chain] = state
        if self._n_partitions:
            self._here.setdefault(self._partition_of(state.chain), set()).add(state.chain)

    # -- partitions ---------------------------------------------------------------------
    async def assign(self, partitions: list[TopicPartition]) -> None:
        await self._load_states()  # chains that moved here continue where they are
        await self._index_partitions()
        for tp, r in (await resume(self._consumer, partitions, self.settings)).items():
            self._committed[tp] = r.start
            windows = PartitionWindows(
                tp.partition,
                r.start,
                caught_up_at=r.end,
                interval=self.interval,
                grace=self.grace,
                final_wait=self.final_wait,
                slack=dt.timedelta(seconds=self.settings.digest_final_slack),
            )
            self._windows[tp] = windows
            self._cut_marks[tp] = CutMarks()
            for i, chain in enumerate(self._here.get(tp.partition, ())):
                if i % 1000 == 999:
                    await asyncio.sleep(0)  # heartbeats run on this loop too
                state = self.states.get(chain)
                if self._trail_ended(chain.trail_arn):
                    at = self._ended.setdefault(chain.trail_arn, self._end_time(chain.trail_arn))
                    if state is None or state.ended is None or state.previous is not None:
                        windows.end(chain, at, state)  # its final digest is still to come
                else:
                    windows.resume(chain, self._start_time(chain.trail_arn), state)
                windows.track(chain, state)
            log.info(
                "partition_assigned",
                partition=tp.partition,
                start=r.start,
                end=r.end,
                chains=len(self._here.get(tp.partition, ())),
            )

    def revoke(self, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            self._windows.pop(tp, None)
            self._committed.pop(tp, None)
            self._cut_marks.pop(tp, None)
            log.info("partition_revoked", partition=tp.partition)
        gone = {tp.partition for tp in partitions}
        for chain in [c for c, r in self._retry.items() if r.windows.partition in gone]:
            del self._retry[chain]
        self._count_parked()

    async def _index_partitions(self) -> None:
        """Which partition of ``delivered`` each known chain lives in, computed once
        (murmur2 in Python: about 0.1 ms a chain, so it yields to the loop as it goes)."""
        n = len(self._consumer.partitions_for_topic(self.settings.topics.delivered) or []) or (
            self.settings.partitions
        )
        if n == self._n_partitions:
            return
        self._n_partitions = n
        self._partition.clear()
        self._here = {}
        for i, chain in enumerate(self.states):
            if i % 1000 == 999:
                await asyncio.sleep(0)
            self._here.setdefault(self._partition_of(chain), set()).add(chain)

    def _partition_of(self, chain: Destination) -> int:
        p = self._partition.get(chain)
        if p is None:
            n = self._n_partitions
            p = int(self._partitioner(_chain_key(chain), list(range(n)), list(range(n))))
            self._partition[chain] = p
        return p

    def _windows_of(self, chain: Destination) -> PartitionWindows | None:
        if not self._n_partitions:
            return None
        return self._windows.get(
            TopicPartition(self.settings.topics.delivered, self._partition_of(chain))
        )

    # -- reading --------------------------------------------------------------------------
    async def _poll_once(self) -> None:
        batches = await self._pacer.poll()
        for tp, messages in batches.items():
            windows = self._windows.get(tp)
            if windows is None:
                continue
            for m in messages:
                if is_watermark(m.headers):
                    self._on_cut_mark(tp, windows, m)
                    continue
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
                        if self._windows.get(tp) is not windows:
                            break  # revoked while the digest was written: no longer ours
                elif await self._belongs(windows, m.offset, manifest):
                    chain = manifest.chain
                    if chain.region not in self._regions:
                        await self._prepare_keys(chain.region)
                    if not windows.add(m.offset, manifest, self.states.get(chain)):
                        continue  # listed already (its manifest published again)
                    if self._trail_ended(chain.trail_arn):
                        at = self._ended.setdefault(
                            chain.trail_arn, self._end_time(chain.trail_arn)
                        )
                        windows.end(chain, at, self.states.get(chain))
                else:
                    windows.skip(m.offset)

    def _on_cut_mark(self, tp: TopicPartition, windows: PartitionWindows, m: Any) -> None:
        """A writer's cut mark: chains whose final digest waited for it may be ready."""
        windows.skip(m.offset)
        try:
            mark = Mark.from_bytes(m.value or b"")
        except ValueError as exc:
            log.warning("bad_watermark", partition=tp.partition, offset=m.offset, error=str(exc))
            return
        marks = self._cut_marks.setdefault(tp, CutMarks())
        marks.on_mark(mark)
        if not marks.times:
            return

        def of_chain(chain: Destination) -> int:
            parts = self._routed_partitions(chain, marks.routed_count)
            return min(marks.times.get(p, -1) for p in parts)

        now = dt.datetime.now(dt.UTC)
        for chain in windows.watermark(max(marks.times.values()), of_chain, self.states):
            stop = self._ended.get(chain.trail_arn)
            if stop is not None:
                log.info(
                    "final_digest_ready",
                    trail_arn=chain.trail_arn,
                    region=chain.region,
                    stopped=format_time(stop),
                    waited=round((now - stop).total_seconds(), 1),
                )

    def _routed_partitions(self, chain: Destination, count: int) -> tuple[int, ...]:
        """The ``routed`` partitions the chain's files come from: its destinations' of
        every kind (events, Insights, network activity, aggregated)."""
        everything = list(range(count))
        return tuple(
            int(self._partitioner(replace(chain, kind=kind).key(), everything, everything))
            for kind in (EVENTS, *sorted(KINDS))
        )

    def _end_time(self, trail_arn: str) -> dt.datetime:
        """When the trail stopped logging (its last logging period's end), or now (a
        deleted trail, validation turned off)."""
        trail = self.registry.get(trail_arn)
        periods = getattr(trail, "logging_periods", ()) if trail is not None else ()
        if trail is not None and not trail.is_logging and periods and periods[-1].stop:
            return dt.datetime.fromtimestamp(periods[-1].stop / 1000, dt.UTC)
        return dt.datetime.now(dt.UTC)

    def _start_time(self, trail_arn: str) -> dt.datetime:
        """When the trail started logging this time (its open logging period), or now."""
        trail = self.registry.get(trail_arn)
        periods = getattr(trail, "logging_periods", ()) if trail is not None else ()
        if periods and periods[-1].stop is None:
            return dt.datetime.fromtimestamp(periods[-1].start / 1000, dt.UTC)
        return dt.datetime.now(dt.UTC)

    def _trail_ended(self, trail_arn: str) -> bool:
        trail = self.registry.get(trail_arn)
        return trail is None or not trail.is_logging or not trail.log_file_validation_enabled

    def _logged_since(self, trail_arn: str, end: dt.datetime) -> dt.datetime | None:
        """When a trail that is stopped now (validation on) started logging again after
        ``end``, the stop this digester last saw: a StartLogging and a StopLogging read
        in one look at the registry. None if it did not."""
        trail = self.registry.get(trail_arn)
        if trail is None or trail.is_logging or not trail.log_file_validation_enabled:
            return None
        after = int(end.timestamp() * 1000)
        starts = [p.start for p in getattr(trail, "logging_periods", ()) if p.start > after]
        return dt.datetime.fromtimestamp(min(starts) / 1000, dt.UTC) if starts else None

    async def _belongs(
        self, windows: PartitionWindows, offset: int, manifest: LogFileManifest
    ) -> bool:
        """:meth:`_accepts`, with a second look before a file of an ended chain is left
        out: the trail change that makes it belong (a StartLogging since the chain's
        final digest) may be on `trails` and not read here yet, or read and not yet
        followed (:meth:`_follow_trails` runs after each poll's records)."""
        if self._accepts(windows, offset, manifest, last_look=False):
            return True
        state = self.states.get(manifest.chain)
        if state is None or state.ended is None:
            return False  # never in a digest (validation never on): no second look
        trail = self.registry.get(manifest.chain.trail_arn)
        if trail is not None and trail.is_logging and not trail.log_file_validation_enabled:
            return False  # logging with validation off: no start to wait for
        fresh = getattr(self.registry, "fresh", None)
        if fresh is not None:
            with contextlib.suppress(TimeoutError, KafkaError):
                await fresh()
        self._follow_trails()
        return self._accepts(windows, offset, manifest)

    def _accepts(
        self,
        windows: PartitionWindows,
        offset: int,
        manifest: LogFileManifest,
        *,
        last_look: bool = True,
    ) -> bool:
        """Whether a delivered log file belongs in a digest.

        A trail with validation on: yes. A trail that ended (stopped, deleted,
        validation off): yes while its chain still waits for its final digest (files
        cut after the stop hold events from before it), a chain StartLogging began
        too (its first file may be read only after the trail stopped again); once the
        final digest is written, only a file holding events from before the end (in a
        backfill digest), so no digest covers a stopped period; no for a trail that
        never had validation on.
        """
        chain = manifest.chain
        trail = self.registry.get(chain.trail_arn)
        if trail is not None and trail.log_file_validation_enabled and trail.is_logging:
            return True
        state = self.states.get(chain)
        if (state is not None and state.previous is not None) or windows.is_open(chain):
            return True  # the chain's final digest is still to come
        if state is None and (trail is None or trail.log_file_validation_enabled):
            # ended (deleted, or stopped with validation on) before its chain's first
            # digest or file was read: the chain starts with this file and its final
            # digest lists it (a trail delivers only events from while it logged)
            return True
        fence = Fence.of(state)
        if fence is not None and fence.misses(offset, manifest):
            return True  # events from before the end: a backfill digest lists it
        if last_look and state is not None and state.ended is not None:
            self.metrics.digester_late_files.inc()
            log.warning(
                "log_file_in_no_digest",
                trail_arn=chain.trail_arn,
                key=manifest.key,
                final_digest_end=state.ended,
            )
        return False

    def _follow_trails(self) -> None:
        """Chains whose trail ended or resumed since the last look (on registry change)."""
        version = getattr(self.registry, "version", 0)
        if version == self._registry_version:
            return
        self._registry_version = version
        known = {c.trail_arn for c in self.states}
        for windows in self._windows.values():
            known.update(c.trail_arn for c in windows.chain_ids())
        ended: dict[str, dt.datetime] = {}
        again: dict[str, dt.datetime] = {}  # stopped, started and stopped since the last look
        for arn in known:
            if not self._trail_ended(arn):
                continue
            seen = self._ended.get(arn)
            started = self._logged_since(arn, seen) if seen is not None else None
            if started is not None:
                again[arn] = started
            ended[arn] = self._end_time(arn) if seen is None or started else seen
        for tp, windows in self._windows.items():
            for chain in {*self._here.get(tp.partition, ()), *windows.chain_ids()}:
                state = self.states.get(chain)
                if chain.trail_arn in again:
                    windows.resume(chain, again[chain.trail_arn], state)
                if chain.trail_arn in ended:
                    windows.end(chain, ended[chain.trail_arn], state)
                elif chain.trail_arn in self._ended:
                    windows.resume(chain, self._start_time(chain.trail_arn), state)
        self._ended = ended

    # -- closing windows --------------------------------------------------------------
    async def _close_due(self) -> None:
        now = dt.datetime.now(dt.UTC)
        for tp, windows in list(self._windows.items()):
            for marker in windows.due(now, self.states):
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
                    windows.cancel(
                        marker.chain, self.states.get(marker.chain), marker.kind == "backfill"
                    )

    async def _write(self, windows: PartitionWindows, closed: ClosedWindow) -> None:
        """One attempt at a digest; a failure schedules a retry and never waits here."""
        async with self._writing:
            await self._write_locked(windows, closed)

    async def _write_locked(self, windows: PartitionWindows, closed: ClosedWindow) -> None:
        chain = closed.chain
        retry = self._retry.pop((chain, closed.backfill), None)
        attempts = (retry.attempts if retry else 0) + 1
        try:
            written = await self._write_once(closed)
        except (
            ClientError,
            BotoCoreError,
            KafkaError,
            OSError,
            NoSigningKeyError,
            DigestKeyTaken,
        ) as exc:
            # The writer's classification: a permanent error (bucket gone, access
            # denied, KMS key disabled) parks the chain at once.
            failure = classify(exc)
            code = failure.code
            self.metrics.digester_digests.labels("failed").inc()
            self._status(chain.trail_arn).latest_digest_delivery_error = code
            parked = failure.permanent or attempts >= self.settings.digest_max_attempts
            delay = (
                self.settings.digest_park_retry
                if parked
                else retry_delay(attempts, base=0.2, cap=self.settings.digest_park_retry)
            )
            self._retry[(chain, closed.backfill)] = _Retry(
                windows, closed, attempts, time.monotonic() + delay, parked
            )
            self._count_parked()
            log.warning(
                "digest_chain_parked" if parked else "digest_put_failed_retrying",
                trail_arn=chain.trail_arn,
                region=chain.region,
                error=code,
                attempts=attempts,
                retry_in=delay,
                detail=str(exc)[:300],
            )
            return
        self._count_parked()
        windows.written(closed, self.states.get(chain))
        if written is None:
            return
        key, unlisted = written
        if unlisted:
            windows.late_files(chain, unlisted, closed.offset)
            windows.track(chain, self.states.get(chain))
        self.metrics.digester_digests.labels("backfill" if closed.backfill else "written").inc()
        st = self._status(chain.trail_arn)
        st.latest_digest_delivery_time = format_time(dt.datetime.now(dt.UTC))
        st.latest_digest_delivery_error = None
        log.info(
            "digest_delivered",
            trail_arn=chain.trail_arn,
            account_id=chain.account_id,
            region=chain.region,
            key=key,
            files=len(closed.files),
            final=closed.final,
            backfill=closed.backfill,
            start=format_time(closed.window.start),
            end=format_time(closed.window.end),
            attempts=attempts,
        )

    async def _write_once(
        self, closed: ClosedWindow
    ) -> tuple[str, tuple[LogFileManifest, ...]] | None:
        """Sign, put, record the new state: the digest's key and the files it was to list
        that the digest found at its key does not (for a backfill digest), or None when
        skipped."""
        chain = closed.chain
        state = self.states.get(chain) or ChainState(chain)
        target = self.registry.target(chain.trail_arn)
        # A deleted trail's final digest goes where the chain's digests went.
        last = state.previous or state.backfill
        bucket = target.bucket if target else (last.bucket if last else None)
        prefix = target.prefix if target else state.prefix
        if bucket is None and closed.files:
            bucket = closed.files[0].bucket  # deleted before its first digest
        if bucket is None:
            log.warning("digest_skipped_unknown_trail", trail_arn=chain.trail_arn)
            return None
        now = dt.datetime.now(dt.UTC)
        signer = await self.keys.signer(chain.region, now)
        log_key = await self.keys.log_key(chain.region)
        public = await self.keys.log_public_key(chain.region)
        before = await self._logs.begin(state.log, tlog.origin(bucket, chain, prefix), public)
        key = digest_key(chain, prefix, closed.window.end, backfill=closed.backfill)
        files = tlog.file_entries(closed.files, key)
        inner = grown(before, files) if before is not None else None
        extra = {tlog.CHECKPOINT_FIELD: checkpoint(inner, log_key)} if inner else None
        try:
            if closed.backfill:
                artifact, new_state = next_backfill(
                    state,
                    closed.window,
                    closed.files,
                    signer,
                    bucket=bucket,
                    prefix=prefix,
                    generated=parse_time(closed.generated) if closed.generated else now,
                    extra=extra,
                )
            else:
                artifact, new_state = next_digest(
                    state,
                    closed.window,
                    closed.files,
                    signer,
                    bucket=bucket,
                    prefix=prefix,
                    final=closed.final,
                    extra=extra,
                )
                new_state = replace(new_state, offset=closed.offset)
        except StaleWindowError:
            return None  # written before a crash; the state already links past it
        plan = None
        if before is not None and inner is not None and extra is not None:
            entry = tlog.digest_entry(bucket, artifact.key, artifact.sha256, artifact.signature)
            after = grown(inner, [entry])
            outer = checkpoint(after, log_key)
            plan = Plan(before, (*files, entry), extra[tlog.CHECKPOINT_FIELD], after, outer)
            new_state = replace(new_state, log=after)
        unlisted: tuple[LogFileManifest, ...] = ()
        try:
            await self._s3.put_object(**artifact.put_object_kwargs())
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in PRECONDITION_FAILED:
                raise
            same, new_state, unlisted = await self._after_conflict(artifact, new_state, closed)
            if not same:
                plan = None  # the log grows by the digest that is there, not by ours
        if plan is not None:
            await self._logs.store(plan)
        await self._save_state(new_state)
        return artifact.key, unlisted

    async def _after_conflict(
        self, artifact: DigestArtifact, ours: ChainState, closed: ClosedWindow
    ) -> tuple[bool, ChainState, tuple[LogFileManifest, ...]]:
        """The digest's key exists: read what is there and continue from it (same:
        it is ours, a replay)."""
        obj = await self._s3.get_object(Bucket=artifact.bucket, Key=artifact.key)
        body = await obj["Body"].read()
        try:
            conflict = after_conflict(
                artifact,
                ours,
                closed.files,
                body,
                obj.get("Metadata", {}),
                final=closed.final,
                backfill=closed.backfill,
            )
        except ValueError as exc:
            raise DigestKeyTaken(str(exc)) from None
        if conflict.same:
            log.info("digest_already_written", trail_arn=closed.chain.trail_arn, key=artifact.key)
            return True, conflict.state, ()
        self.metrics.digester_conflicts.inc()
        log.warning(
            "digest_written_by_another",
            trail_arn=closed.chain.trail_arn,
            region=closed.chain.region,
            key=artifact.key,
            unlisted=[f.key for f in conflict.unlisted],
        )
        # The other digester saved the chain's state with its log: take it if it is
        # there already; else the log is read back from S3 at the next digest.
        await self._load_states()
        theirs = self.states.get(closed.chain)
        if theirs is not None and not _older(theirs, conflict.state):
            return False, theirs, conflict.unlisted
        return False, replace(conflict.state, log=None), conflict.unlisted

    async def _retry_due(self) -> None:
        if not self._retry:
            return
        now = time.monotonic()
        for chain, retry in list(self._retry.items()):
            if retry.next_at <= now and self._retry.get(chain) is retry:
                await self._write(retry.windows, retry.closed)

    def _count_parked(self) -> None:
        self.metrics.digester_parked_chains.set(sum(r.parked for r in self._retry.values()))
        self._undelivered_age()

    def _undelivered_age(self) -> None:
        """How overdue the oldest waiting digest is: an age, so refreshed every second."""
        ends = [r.closed.window.end for r in self._retry.values()]
        late = (dt.datetime.now(dt.UTC) - min(ends)).total_seconds() if ends else 0.0
        self.metrics.digester_undelivered_age.set(max(0.0, late))

    def seat(self) -> int | None:
        """The lowest partition of ``delivered`` this digester owns (its status keys'
        name on ``trail-status``)."""
        return min((tp.partition for tp in self._windows), default=None)

    def _status(self, trail_arn: str) -> DigestStatus:
        return self.status.setdefault(trail_arn, DigestStatus())

    async def _commit(self) -> None:
        await commit_committable(
            self._consumer, {tp: w.committable for tp, w in self._windows.items()}, self._committed
        )

    async def commit(self) -> None:
        """Before partitions move away: finish the digest being written (its state
        record then precedes the next owner's read of ``digest-state``), and commit."""
        async with self._writing:
            await self._commit()


def _ms(t: dt.datetime) -> int:
    return int(t.timestamp() * 1000)


def _older(state: ChainState, known: ChainState | None) -> bool:
    """Whether ``state`` is behind ``known``: the digest it ends at is an earlier one."""
    if known is None:
        return False
    return _reach(state) < _reach(known)


def _reach(state: ChainState) -> str:
    """How far a chain's state reaches: the end of its last digest (final or not)."""
    return state.previous.end_time if state.previous else (state.ended or "")


def create(settings: Settings, registry: Any, metrics: Metrics) -> Digester:
    """Entry point for ``recorder run digester``."""
    return Digester(settings, registry, metrics)
