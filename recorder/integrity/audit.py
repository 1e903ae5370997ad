"""Proofs over a chain's Merkle log, and an audit of the log against the bucket. Pure.

Two uses, one set of rules (the I/O comes in as plain data and callables):

* An **inclusion proof** (:func:`prove`) for one object: its entry, its index, the
  audit path to the root of a signed checkpoint, and optionally a consistency proof
  from a checkpoint the verifier kept. :func:`check_proof` verifies it offline with
  nothing but the log's public key (and, if given, the file itself).
* An **audit** (:func:`audit`) of a whole log as stored: the checkpoint's signature,
  the entries against the checkpoint's root, checkpoints kept from earlier against
  the log (a truncated or rewritten log), every entry's object against its hash,
  every digest's own checkpoint and listing against the log, and every object in the
  trail's folders that the log does not hold. Each finding names what is wrong.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from recorder.integrity import tlog
from recorder.integrity.merkle import (
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root,
    verify_consistency,
    verify_inclusion,
)
from recorder.integrity.naming import digest_key_time, is_backfill_key


@dataclass(frozen=True, slots=True)
class Stored:
    """An object as read from S3 (gzip bytes) with its user metadata."""

    body: bytes
    metadata: Mapping[str, str] = field(default_factory=dict)


def content_sha256(gz: bytes) -> str | None:
    """SHA-256 hex of the uncompressed bytes (what ``hashValue`` is), or None."""
    try:
        return hashlib.sha256(gzip.decompress(gz)).hexdigest()
    except (OSError, EOFError, zlib.error):
        return None


# -- inclusion and consistency proofs ---------------------------------------------------


def prove(
    entries: Sequence[bytes],
    index: int,
    note: str,
    since: str | None = None,
) -> dict[str, Any]:
    """The proof bundle of entry ``index`` against the checkpoint ``note`` (whose size
    must be the number of ``entries``), with a consistency proof from ``since``."""
    hashes = [leaf_hash(e) for e in entries]
    size = int(note.split("\n")[1])
    if size != len(hashes):
        raise ValueError(f"the checkpoint is for {size} entries, the log holds {len(hashes)}")
    out: dict[str, Any] = {
        "origin": note.split("\n", 1)[0],
        "index": index,
        "treeSize": size,
        "entry": entries[index].decode(),
        "inclusion": [base64.b64encode(h).decode() for h in inclusion_proof(index, hashes)],
        "checkpoint": note,
    }
    if since is not None:
        old = int(since.split("\n")[1])
        if old > size:
            raise ValueError(
                f"the checkpoint kept is for {old} entries, more than the log's {size}: "
                "the log was truncated"
            )
        proof = consistency_proof(old, hashes) if old else []
        out["consistency"] = {
            "from": since,
            "proof": [base64.b64encode(h).decode() for h in proof],
        }
    return out


def check_proof(
    bundle: Mapping[str, Any], public: bytes, file_gz: bytes | None = None
) -> list[str]:
    """What is wrong with a proof bundle (an empty list: it verifies).

    Offline: the checkpoint's signature with ``public``, the entry's inclusion in it,
    the file's hash against the entry when ``file_gz`` is given, and the consistency
    of the checkpoint kept (``consistency.from``) with this one.
    """
    problems: list[str] = []
    try:
        cp = tlog.open_note(str(bundle["checkpoint"]), public, str(bundle["origin"]))
    except tlog.CheckpointError as exc:
        return [f"checkpoint: {exc}"]
    entry = str(bundle["entry"]).encode()
    index = int(bundle["index"])
    path = [base64.b64decode(h) for h in bundle["inclusion"]]
    if cp.size != int(bundle.get("treeSize", cp.size)):
        problems.append(f"the proof claims {bundle['treeSize']} entries, its checkpoint {cp.size}")
    if not verify_inclusion(index, cp.size, leaf_hash(entry), path, cp.root):
        problems.append(
            f"entry {index} is not in the log of {cp.origin} at size {cp.size} "
            "(the inclusion proof does not lead to the checkpoint's root)"
        )
    doc = tlog.parse_entry(entry)
    if file_gz is not None:
        got = content_sha256(file_gz)
        if got != doc["hashValue"]:
            problems.append(
                f"the file is not s3://{doc['s3Bucket']}/{doc['s3Object']} as logged: its "
                f"SHA-256 is {got or 'unreadable'}, the log has {doc['hashValue']}"
            )
    consistency = bundle.get("consistency")
    if consistency:
        try:
            old = tlog.open_note(str(consistency["from"]), public, cp.origin)
        except tlog.CheckpointError as exc:
            problems.append(f"the checkpoint kept: {exc}")
        else:
            proof = [base64.b64decode(h) for h in consistency["proof"]]
            if old.size > cp.size:
                problems.append(
                    f"the log was truncated: a checkpoint was signed for {old.size} entries, "
                    f"this one has {cp.size}"
                )
            elif old.size and not verify_consistency(old.size, cp.size, old.root, cp.root, proof):
                problems.append(
                    f"the log was rewritten: the checkpoint kept ({old.size} entries) is not "
                    f"a prefix of this one ({cp.size})"
                )
    return problems


# -- the audit of a stored log ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Finding:
    where: str  # what the finding is about: an s3:// URL, an entry, a checkpoint
    problem: str

    def __str__(self) -> str:
        return f"{self.where}\tINVALID: {self.problem}"


def audit(
    *,
    note: str,
    public: bytes,
    origin: str,
    entries: Sequence[bytes],
    fetch: Callable[[str, str], Stored | None],
    kept: Iterable[tuple[str, str]] = (),
    listed: Iterable[tuple[str, str]] = (),
    elsewhere: Iterable[tuple[str, str]] = (),
) -> tuple[list[Finding], dict[str, int]]:
    """Everything wrong with a log and the objects it names.

    ``note`` is the stored checkpoint, ``entries`` the entries the bundles hold,
    ``fetch(bucket, key)`` reads an object, ``kept`` are (name, note) of checkpoints
    the verifier kept from before, ``listed`` the (bucket, key) of objects found in
    the trail's folders, ``elsewhere`` those held by other logs of the same folders.
    Returns the findings and counts of what was checked.
    """
    findings: list[Finding] = []
    counts = {"entries": len(entries), "logs": 0, "digests": 0, "checkpoints": 0, "pending": 0}
    try:
        cp = tlog.open_note(note, public, origin)
    except tlog.CheckpointError as exc:
        return [Finding(f"{origin}/checkpoint", str(exc))], counts
    hashes = [leaf_hash(e) for e in entries]
    if cp.size > len(hashes):
        findings.append(
            Finding(
                f"{origin}/checkpoint",
                f"signed for {cp.size} entries; the entry bundles hold {len(hashes)} "
                f"(entries {len(hashes)}..{cp.size - 1} are gone)",
            )
        )
        return findings, counts
    hashes, entries = hashes[: cp.size], list(entries[: cp.size])
    if root(hashes) != cp.root:
        findings.append(
            Finding(f"{origin}/tile/entries", "the entries do not hash to the checkpoint's root")
        )
        return findings, counts
    for name, kept_note in kept:
        counts["checkpoints"] += 1
        try:
            old = tlog.open_note(kept_note, public, origin)
        except tlog.CheckpointError as exc:
            findings.append(Finding(name, str(exc)))
            continue
        if old.size > cp.size:
            findings.append(
                Finding(
                    name,
                    f"the log was truncated: this checkpoint was signed for {old.size} "
                    f"entries, the log in S3 has {cp.size} (its newest {old.size - cp.size} "
                    "entries, digests and log files, were removed)",
                )
            )
        elif old.size and root(hashes[: old.size]) != old.root:
            findings.append(
                Finding(name, f"the log was rewritten: its first {old.size} entries changed")
            )
    docs = [tlog.parse_entry(e) for e in entries]
    where_of = {(d["s3Bucket"], d["s3Object"]): i for i, d in enumerate(docs)}
    by_hash = {d["hashValue"]: i for i, d in enumerate(docs) if d["type"] == "log"}
    files_of: dict[str, set[str]] = {}
    for d in docs:
        if d["type"] == "log":
            files_of.setdefault(d["digestS3Object"], set()).add(d["s3Object"])
    for i, d in enumerate(docs):
        url = f"s3://{d['s3Bucket']}/{d['s3Object']}"
        kind = "digest" if d["type"] == "digest" else "log file"
        stored = fetch(d["s3Bucket"], d["s3Object"])
        if stored is None:
            findings.append(Finding(url, f"not found ({kind}, entry {i} of the log)"))
            continue
        if content_sha256(stored.body) != d["hashValue"]:
            findings.append(Finding(url, f"hash value doesn't match entry {i} of the log"))
            continue
        if d["type"] == "log":
            counts["logs"] += 1
            continue
        counts["digests"] += 1
        if stored.metadata.get("signature") != d["signature"]:
            findings.append(Finding(url, f"signature doesn't match entry {i} of the log"))
        findings += _digest_against_log(url, i, stored, hashes, files_of, public, origin)
    seen_elsewhere = set(elsewhere)
    newest = max(
        (_key_time(d["s3Object"]) for d in docs if d["type"] == "digest"),
        default=None,
        key=lambda t: t or "",
    )
    for bucket, key in listed:
        if (bucket, key) in where_of or (bucket, key) in seen_elsewhere:
            continue
        url = f"s3://{bucket}/{key}"
        stored = fetch(bucket, key)
        digest_of = content_sha256(stored.body) if stored is not None else None
        twin = by_hash.get(digest_of or "")
        if twin is not None:
            d = docs[twin]
            findings.append(
                Finding(
                    url,
                    f"not in the log: a copy of entry {twin}, s3://{d['s3Bucket']}/"
                    f"{d['s3Object']}, delivered in the window of {d['digestS3Object']}",
                )
            )
        elif _pending(key, newest):
            counts["pending"] += 1  # delivered after the log's newest digest: not in it yet
        else:
            findings.append(Finding(url, "not in the log (no entry names it or its content)"))
    return findings, counts


_LOG_TIME = re.compile(r"_(\d{8}T\d{4})Z_[^_/]+\.json\.gz$")


def _key_time(key: str) -> str | None:
    """``YYYYMMDDTHHMMSS`` of a digest key's end time (a log file's key: to the minute)."""
    if is_backfill_key(key) or "/CloudTrail-Digest/" in key:
        return digest_key_time(key)[:-1]
    m = _LOG_TIME.search(key)
    return None if m is None else m.group(1) + "00"


def _pending(key: str, newest: str | None) -> bool:
    """An object newer than the log's newest digest is not in the log yet (a log file's
    key has minutes only: one in the newest digest's minute may be either)."""
    when = _key_time(key)
    if when is None or newest is None:
        return newest is None
    if "/CloudTrail-Digest/" in key:
        return when > newest
    return when[:-2] >= newest[:-2]


def _digest_against_log(
    url: str,
    index: int,
    stored: Stored,
    hashes: Sequence[bytes],
    files_of: Mapping[str, set[str]],
    public: bytes,
    origin: str,
) -> list[Finding]:
    """A digest's own checkpoint must be the log just before its entry, and its
    ``logFiles`` the entries that name it."""
    out: list[Finding] = []
    doc = json.loads(gzip.decompress(stored.body))
    note = doc.get(tlog.CHECKPOINT_FIELD)
    if note is not None:
        try:
            own = tlog.open_note(note, public, origin)
        except tlog.CheckpointError as exc:
            out.append(Finding(url, f"its checkpoint: {exc}"))
        else:
            if own.size != index or root(hashes[: own.size]) != own.root:
                out.append(
                    Finding(
                        url,
                        f"carries a checkpoint of {own.size} entries the log contradicts "
                        f"(the digest is entry {index})",
                    )
                )
    listed = {f["s3Object"] for f in doc.get("logFiles") or ()}
    logged = set(files_of.get(doc.get("digestS3Object", ""), set()))
    for key in sorted(listed - logged):
        out.append(Finding(url, f"lists s3://.../{key}, which the log has in no window of it"))
    for key in sorted(logged - listed):
        out.append(Finding(url, f"does not list {key}, which the log puts in its window"))
    return out
