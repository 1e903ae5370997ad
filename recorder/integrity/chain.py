"""Digest chaining: from the previous digest and an hour's log files to the next digest.

Pure: the digester feeds it state it keeps (or recovers from S3) and writes the
artifact it returns. The state is the link the next digest must record
(previous bucket, key, SHA-256 and signature), so it is small, serialisable,
and recoverable from the last digest object alone (:func:`state_from_digest`).
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from recorder.integrity.digest import HOUR, DigestWindow, PreviousDigest, build_digest
from recorder.integrity.manifest import LogFileManifest
from recorder.integrity.naming import digest_chain, digest_key, is_chain_digest_key
from recorder.integrity.signing import SIGNATURE_ALGORITHM, Signer, SigningKey, string_to_sign
from recorder.integrity.times import format_time, parse_time
from recorder.integrity.tlog import LogState
from recorder.policies.requests import object_put_params
from recorder.trails.destination import Destination


class StaleWindowError(ValueError):
    """The window starts before the chain's last digest ended: it was digested already.

    Seen on replay after a crash when the digest object was written but the
    consumer's offsets were not committed; the digester should skip the window.
    """


@dataclass(frozen=True, slots=True)
class ChainState:
    """Where a chain stands: ``previous`` None means the next digest is a starting one."""

    chain: Destination
    previous: PreviousDigest | None = None
    #: The trail's S3 key prefix when the last digest was written: a deleted
    #: trail's final digest still lands under it (the bucket is in ``previous``).
    prefix: str | None = None
    #: Set by a final digest (its end time): the chain ended with StopLogging,
    #: DeleteTrail or validation turned off; no digest follows until it restarts.
    ended: str | None = None
    #: The last backfill digest: the link the next one records (a chain of its own).
    backfill: PreviousDigest | None = None
    #: The ``delivered`` offset of the marker that closed the last digest (the
    #: chain's fence: files read after it that belong before it are late).
    offset: int | None = None
    #: The chain's Merkle log after the last digest (None: to be read from S3).
    log: LogState | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            **self.chain.to_json(),
            "previous": self.previous.to_json() if self.previous else None,
            "prefix": self.prefix,
            "ended": self.ended,
            "backfill": self.backfill.to_json() if self.backfill else None,
            "offset": self.offset,
            "log": self.log.to_json() if self.log else None,
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> ChainState:
        previous, backfill, offset = doc.get("previous"), doc.get("backfill"), doc.get("offset")
        log = doc.get("log")
        return cls(
            digest_chain(Destination.from_json(doc)),
            PreviousDigest.from_json(previous) if previous else None,
            doc.get("prefix") or None,
            doc.get("ended") or None,
            PreviousDigest.from_json(backfill) if backfill else None,
            None if offset is None else int(offset),
            LogState.from_json(log) if log else None,
        )

    def next_window(self, period: dt.timedelta = HOUR) -> DigestWindow | None:
        """The hour after the previous digest, or None for a chain that has to start anew."""
        if self.previous is None:
            return None
        return DigestWindow.starting(parse_time(self.previous.end_time), period)


@dataclass(frozen=True, slots=True)
class DigestArtifact:
    """One digest object, ready for PutObject (``Metadata=metadata``)."""

    bucket: str
    key: str
    body: bytes  # uncompressed JSON: what is hashed and signed
    gz: bytes  # the object's bytes
    metadata: dict[str, str]  # becomes x-amz-meta-signature / x-amz-meta-signature-algorithm

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()

    @property
    def signature(self) -> str:
        return self.metadata["signature"]

    def put_object_kwargs(self) -> dict[str, Any]:
        """S3 PutObject arguments; stored like log files (gzip JSON), signature in metadata.

        Always SSE-S3, whatever the trail's log files use (guide: "Digest files are
        encrypted with Amazon S3-managed encryption keys (SSE-S3)", also with SSE-KMS),
        and with the ACL CloudTrail puts every object with (:mod:`recorder.policies.requests`).
        Conditional (``If-None-Match: *``): a digest is never overwritten. S3 answers
        412 PreconditionFailed when the key exists (a replay of this very digest, or
        another digester's for the same window); :func:`after_conflict` decides which.
        """
        return {
            **object_put_params(),
            "IfNoneMatch": "*",
            "Bucket": self.bucket,
            "Key": self.key,
            "Body": self.gz,
            "ContentType": "application/json",
            "ContentEncoding": "gzip",
            "Metadata": dict(self.metadata),
        }


def next_digest(
    state: ChainState,
    window: DigestWindow,
    files: Iterable[LogFileManifest],
    signer: Signer,
    *,
    bucket: str,
    prefix: str | None = None,
    final: bool = False,
    extra: Mapping[str, Any] | None = None,
) -> tuple[DigestArtifact, ChainState]:
    """Build and sign the chain's digest for ``window`` and return the state after it.

    ``bucket``/``prefix`` are the trail's current S3 settings; if the bucket
    changed since the previous digest the link crosses buckets, which
    validate-logs follows. ``final`` marks the digest CloudTrail delivers when
    logging stops or the trail is deleted: the returned state has no link, so
    the next digest (after logging restarts) is a starting digest. The same
    arguments always give byte-identical output.
    """
    if signer.region != state.chain.region:
        raise ValueError(f"{signer.region} keys cannot sign digests for {state.chain.region}")
    previous = state.previous
    if previous is not None and window.start < parse_time(previous.end_time):
        raise StaleWindowError(
            f"window {format_time(window.start)}..{format_time(window.end)} starts before "
            f"the previous digest's end {previous.end_time}"
        )
    key = digest_key(state.chain, prefix, window.end)
    artifact = _signed(
        state.chain, window, bucket, key, signer.key_for(window.end), previous, files, extra, {}
    )
    end = format_time(window.end)
    link = PreviousDigest(bucket, key, artifact.sha256, artifact.signature, end)
    if final:
        return artifact, replace(state, previous=None, prefix=prefix, ended=end)
    return artifact, replace(state, previous=link, prefix=prefix, ended=None)


def next_backfill(
    state: ChainState,
    window: DigestWindow,
    files: Iterable[LogFileManifest],
    signer: Signer,
    *,
    bucket: str,
    generated: dt.datetime,
    prefix: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> tuple[DigestArtifact, ChainState]:
    """A backfill digest: the log files delivered after the digest of their window.

    In AWS's form: the key of a digest ending at ``window.end`` with the suffix
    ``_backfill.json.gz``, the S3 metadata ``backfill-generation-timestamp`` (when
    it was made), signed like any digest, by the key valid when it was made (which
    validate-logs looks up around that time), and chained to the chain's previous
    backfill digest, apart from the hourly chain. Same arguments, same bytes.
    """
    if signer.region != state.chain.region:
        raise ValueError(f"{signer.region} keys cannot sign digests for {state.chain.region}")
    previous = state.backfill
    if previous is not None and window.end <= parse_time(previous.end_time):
        raise StaleWindowError(
            f"backfill window ending {format_time(window.end)} is not after the previous "
            f"backfill digest's end {previous.end_time}"
        )
    key = digest_key(state.chain, prefix, window.end, backfill=True)
    metadata = {"backfill-generation-timestamp": format_time(generated)}
    artifact = _signed(
        state.chain,
        window,
        bucket,
        key,
        signer.key_for(generated),
        previous,
        files,
        extra,
        metadata,
    )
    link = PreviousDigest(bucket, key, artifact.sha256, artifact.signature, format_time(window.end))
    return artifact, replace(state, backfill=link)


def _signed(
    chain: Destination,
    window: DigestWindow,
    bucket: str,
    key: str,
    signing_key: SigningKey,
    previous: PreviousDigest | None,
    files: Iterable[LogFileManifest],
    extra: Mapping[str, Any] | None,
    metadata: Mapping[str, str],
) -> DigestArtifact:
    """The digest object: its bytes, gzip without mtime or name (replays give the same
    object), and the signature validate-logs checks in its metadata."""
    body = build_digest(chain, window, bucket, key, signing_key.fingerprint, previous, files, extra)
    to_sign = string_to_sign(
        format_time(window.end),
        bucket,
        key,
        hashlib.sha256(body).hexdigest(),
        previous.signature if previous else None,
    )
    return DigestArtifact(
        bucket=bucket,
        key=key,
        body=body,
        gz=gzip.compress(body, mtime=0),
        metadata={
            "signature": signing_key.sign(to_sign).hex(),
            "signature-algorithm": SIGNATURE_ALGORITHM,
            **metadata,
        },
    )


@dataclass(frozen=True, slots=True)
class Conflict:
    """What a refused conditional put found at the digest's key."""

    #: The chain's state after the digest that is there: ours (a replay), or adopted.
    state: ChainState
    #: True when the stored digest is byte for byte the one we built (a replay).
    same: bool
    #: Log files our digest listed that the stored one does not (they need a digest).
    unlisted: tuple[LogFileManifest, ...] = ()


def after_conflict(
    artifact: DigestArtifact,
    ours: ChainState,
    files: Iterable[LogFileManifest],
    stored_body: bytes,
    stored_metadata: Mapping[str, str],
    *,
    final: bool,
    backfill: bool = False,
) -> Conflict:
    """The digest's key already holds an object: never write a second, different one.

    The same bytes and signature: a replay of a digest already written (a crash
    between the put and the state record), and ``ours`` stands. Anything else is
    another digester's digest for this window (two owners of one chain during a
    rebalance, or one that started from an older state): the chain continues from
    *that* digest, and the files ours listed and it does not are returned, for a
    backfill digest to cover. Raises ValueError when the object is not a digest of
    this chain at this place (then nothing can be adopted; the caller retries).
    """
    stored = stored_body
    if stored[:2] == b"\x1f\x8b":
        stored = gzip.decompress(stored)
    if stored == artifact.body and stored_metadata.get("signature") == artifact.signature:
        return Conflict(ours, True)
    adopted = state_from_digest(ours.chain, artifact.bucket, artifact.key, stored, stored_metadata)
    listed = {(f["s3Bucket"], f["s3Object"]) for f in json.loads(stored).get("logFiles") or ()}
    unlisted = tuple(f for f in files if (f.bucket, f.key) not in listed)
    link = adopted.previous
    assert link is not None  # state_from_digest always links to the digest it read
    if backfill:
        state = replace(ours, backfill=link)
    elif final:
        state = replace(ours, previous=None, ended=link.end_time)
    else:
        state = replace(ours, previous=link, ended=None)
    return Conflict(state, False, unlisted)


def state_from_digest(
    chain: Destination,
    bucket: str,
    key: str,
    body: bytes,
    metadata: Mapping[str, str],
) -> ChainState:
    """Recover a chain's state from its newest digest object (after a restart).

    ``body`` may be the object as stored (gzip) or inflated; ``metadata`` is the
    object's user metadata as S3 returns it (``signature`` key). The digest must
    be this chain's and must say it lives where it was read from; the hash is
    of the inflated bytes, as the next digest's ``previousDigestHashValue``
    requires.
    """
    if body[:2] == b"\x1f\x8b":
        body = gzip.decompress(body)
    if not is_chain_digest_key(chain, key):
        raise ValueError(f"s3://{bucket}/{key} is not a digest of {chain.trail_arn}")
    doc = json.loads(body)
    if doc.get("digestS3Bucket") != bucket or doc.get("digestS3Object") != key:
        raise ValueError(f"digest s3://{bucket}/{key} has been moved from its original location")
    if doc.get("awsAccountId") != chain.account_id:
        raise ValueError(f"digest s3://{bucket}/{key} is for account {doc.get('awsAccountId')}")
    signature = metadata.get("signature")
    if not signature:
        raise ValueError(f"digest s3://{bucket}/{key} has no signature metadata")
    previous = PreviousDigest(
        bucket=bucket,
        key=key,
        sha256=hashlib.sha256(body).hexdigest(),
        signature=signature,
        end_time=format_time(parse_time(doc["digestEndTime"])),
    )
    return ChainState(chain, previous)
