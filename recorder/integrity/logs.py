"""The digester's side of the Merkle logs (``recorder.integrity.tlog``): S3 in and out.

For each digest the digester appends the digest's log files, signs the checkpoint the
digest then carries, appends the digest itself and signs the log's newest checkpoint
(:func:`plan`, pure). This module stores what that produced: tiles and entry bundles
with ``If-None-Match: *`` (immutable: a replay finds the same bytes; different bytes
are another writer's, reported and left alone) and the ``checkpoint`` object, which
only ever moves forward. What appending needs beside the chain state (the partial
tiles) is kept in memory and read back from S3 when a chain moves here. Every put
carries what the guide's bucket policy demands of any object under ``AWSLogs/`` (the
bucket owner's ACL, SSE-S3): a bucket that enforces that policy refuses anything less.

A log that cannot be continued from S3 (its tiles deleted) stops being written: its
chain's digests are never held up for it; ``recorder_digester_tlog_failures_total``
and the log event ``tlog_unavailable`` say so.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from recorder.integrity import tlog
from recorder.integrity.merkle import leaf_hash
from recorder.integrity.tlog import Checkpoint, Frontier, LogState
from recorder.obs.logging import get_logger
from recorder.obs.metrics import Metrics
from recorder.policies.requests import object_put_params

log = get_logger("recorder.digester")

PRECONDITION_FAILED = frozenset({"PreconditionFailed", "412"})


@dataclass(frozen=True, slots=True)
class Plan:
    """One digest's growth of its log."""

    before: LogState
    entries: tuple[bytes, ...]  # the digest's log files, then the digest
    inner: str  # the checkpoint after the log files: the one the digest carries
    after: LogState
    outer: str  # the checkpoint after the digest too: the log's newest


def checkpoint(state: LogState, key: Ed25519PrivateKey) -> str:
    return tlog.sign(Checkpoint(state.origin, state.size, state.tree.root()), key)


def grown(before: LogState, entries: Sequence[bytes]) -> LogState:
    return LogState(before.origin, before.tree.extend([leaf_hash(e) for e in entries]))


class MerkleLogs:
    def __init__(self, s3: Any, metrics: Metrics) -> None:
        self.s3 = s3
        self.metrics = metrics
        self._frontiers: dict[str, Frontier] = {}  # origin -> frontier at its known size
        self._broken: set[str] = set()

    async def begin(self, state: LogState | None, name: str, public: bytes) -> LogState | None:
        """The log to append to: the chain state's, or the one S3 holds (a chain that
        moved here with no log in its state, or one whose bucket changed), or a new one.
        None: the log cannot be continued (its checkpoint or tiles are unreadable)."""
        if name in self._broken:
            return None
        if state is not None and state.origin == name:
            return state
        note = await self._get(name, "checkpoint")
        if note is None:
            return LogState(name)
        try:
            cp = tlog.open_note(note.decode(), public, name)
            tree = await asyncio.to_thread(
                tlog.compact_range_from_tiles, cp.size, self._reader(name)
            )
        except (tlog.CheckpointError, LookupError, ValueError, UnicodeDecodeError) as exc:
            self._give_up(name, f"cannot continue from the stored log: {exc}")
            return None
        if tree.root() != cp.root:
            self._give_up(name, "the stored tiles do not match the stored checkpoint")
            return None
        return LogState(name, tree)

    async def store(self, plan: Plan) -> None:
        """Tiles, bundles and the newest checkpoint of ``plan``; raises what S3 raises
        (the digest's write is then retried, and finds the same bytes)."""
        name = plan.before.origin
        frontier = await self._frontier(plan.before)
        if frontier is None:
            return
        grown, writes = tlog.append(frontier, plan.entries)
        bucket, folder = tlog.split_origin(name)
        await asyncio.gather(
            *(self._put_once(bucket, f"{folder}/{path}", body) for path, body in writes.items())
        )
        await self._advance(bucket, f"{folder}/checkpoint", plan.after.size, plan.outer)
        self._frontiers[name] = grown

    # -- S3 -----------------------------------------------------------------------------
    def _reader(self, name: str) -> Any:
        """A blocking reader of the log's objects, for the pure tile walks (in a thread)."""
        loop = asyncio.get_running_loop()

        def read(path: str) -> bytes | None:
            return asyncio.run_coroutine_threadsafe(self._get(name, path), loop).result()

        return read

    async def _get(self, name: str, path: str) -> bytes | None:
        bucket, folder = tlog.split_origin(name)
        try:
            obj = await self.s3.get_object(Bucket=bucket, Key=f"{folder}/{path}")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
                return None
            raise
        return bytes(await obj["Body"].read())

    async def _frontier(self, state: LogState) -> Frontier | None:
        name = state.origin
        if name in self._broken:
            return None
        known = self._frontiers.get(name)
        if known is not None and known.size == state.size:
            return known
        if state.size == 0:
            return Frontier(0)
        tiles, bundle_path = tlog.frontier_paths(state.size)
        read = {level: await self._get(name, path) for level, path in tiles}
        bundle = await self._get(name, bundle_path) if bundle_path else None
        missing = [p for (level, p) in tiles if read[level] is None]
        if missing or (bundle_path and bundle is None):
            self._give_up(name, f"partial tiles missing: {missing or [bundle_path]}")
            return None
        return tlog.frontier_from(state.size, {k: v for k, v in read.items() if v}, bundle)

    async def _put_once(self, bucket: str, key: str, body: bytes) -> None:
        try:
            await self.s3.put_object(
                Bucket=bucket,
                Key=key,
                Body=body,
                ContentType="application/octet-stream",
                IfNoneMatch="*",
                **object_put_params(),
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in PRECONDITION_FAILED:
                raise
            obj = await self.s3.get_object(Bucket=bucket, Key=key)
            if bytes(await obj["Body"].read()) != body:
                self.metrics.digester_tlog_failures.labels("tile_conflict").inc()
                log.error("tlog_tile_conflict", bucket=bucket, key=key)

    async def _advance(self, bucket: str, key: str, size: int, note: str) -> None:
        """Replace the ``checkpoint`` object only with a larger tree (never roll it back)."""
        for _ in range(3):
            try:
                obj = await self.s3.get_object(Bucket=bucket, Key=key)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in {"NoSuchKey", "404"}:
                    raise
                condition = {"IfNoneMatch": "*"}
            else:
                stored = (await obj["Body"].read()).decode(errors="replace").split("\n")
                if len(stored) > 1 and stored[1].isdigit() and int(stored[1]) >= size:
                    return
                condition = {"IfMatch": obj["ETag"]}
            try:
                await self.s3.put_object(
                    Bucket=bucket,
                    Key=key,
                    Body=note.encode(),
                    ContentType="text/plain; charset=utf-8",
                    **object_put_params(),
                    **condition,
                )
                return
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in PRECONDITION_FAILED:
                    raise

    def _give_up(self, name: str, why: str) -> None:
        self._broken.add(name)
        self.metrics.digester_tlog_failures.labels("unavailable").inc()
        log.error("tlog_unavailable", origin=name, reason=why)
