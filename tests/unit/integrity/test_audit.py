"""Proofs and audits over a Merkle log: what they catch that a digest chain cannot."""

from __future__ import annotations

import gzip
import hashlib
import json

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from recorder.integrity import audit, tlog
from recorder.integrity.audit import Stored
from recorder.integrity.merkle import CompactRange, leaf_hash

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
PUBLIC = tlog.public_bytes(KEY.public_key())
BUCKET = "b"
ORIGIN = f"{BUCKET}/AWSLogs/111122223333/CloudTrail-Tlog/us-east-1/t_us-east-1"
LOGS = "AWSLogs/111122223333/CloudTrail/us-east-1/2026/12/06/"
DIGESTS = "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/12/06/"


class World:
    """A trail's bucket and its log: windows of log files, each closed by a digest."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], Stored] = {}
        self.entries: list[bytes] = []
        self.notes: list[str] = []

    def note(self) -> str:
        tree = CompactRange().extend([leaf_hash(e) for e in self.entries])
        return tlog.sign(tlog.Checkpoint(ORIGIN, tree.size, tree.root()), KEY)

    def window(self, name: str, files: list[str]) -> str:
        digest = f"{DIGESTS}111122223333_CloudTrail-Digest_{name}.json.gz"
        listed = []
        for f in files:
            body = json.dumps({"Records": [{"eventID": f}]}).encode()
            self.objects[(BUCKET, LOGS + f)] = Stored(gzip.compress(body, mtime=0))
            sha = hashlib.sha256(body).hexdigest()
            self.entries.append(
                tlog._entry(
                    {
                        "type": "log",
                        "s3Bucket": BUCKET,
                        "s3Object": LOGS + f,
                        "hashValue": sha,
                        "deliveryTime": "2026-12-06T10:00:00Z",
                        "digestS3Object": digest,
                    }
                )
            )
            listed.append({"s3Bucket": BUCKET, "s3Object": LOGS + f, "hashValue": sha})
        inner = self.note()
        doc = {"digestS3Object": digest, "logFiles": listed, tlog.CHECKPOINT_FIELD: inner}
        body = json.dumps(doc).encode()
        self.objects[(BUCKET, digest)] = Stored(gzip.compress(body, mtime=0), {"signature": name})
        self.entries.append(
            tlog.digest_entry(BUCKET, digest, hashlib.sha256(body).hexdigest(), name)
        )
        self.notes.append(self.note())
        return digest

    def audit(self, **kwargs: object) -> list[str]:
        findings, _ = audit.audit(
            note=kwargs.pop("note", self.notes[-1]),  # type: ignore[arg-type]
            public=PUBLIC,
            origin=ORIGIN,
            entries=kwargs.pop("entries", self.entries),  # type: ignore[arg-type]
            fetch=lambda b, k: self.objects.get((b, k)),
            listed=kwargs.pop("listed", list(self.objects)),  # type: ignore[arg-type]
            **kwargs,  # type: ignore[arg-type]
        )
        return [str(f) for f in findings]


def world() -> World:
    w = World()
    for i, files in enumerate((["a", "b"], ["c"], [], ["d", "e"], ["f"])):
        w.window(f"w{i}", files)
    return w


def test_an_untouched_log_has_nothing_to_report() -> None:
    w = world()
    assert w.audit() == []


def test_two_consecutive_deleted_digests_are_both_named() -> None:
    w = world()
    gone = [f"{DIGESTS}111122223333_CloudTrail-Digest_w{i}.json.gz" for i in (1, 2)]
    for key in gone:
        del w.objects[(BUCKET, key)]
    assert w.audit() == [
        f"s3://{BUCKET}/{gone[0]}\tINVALID: not found (digest, entry 4 of the log)",
        f"s3://{BUCKET}/{gone[1]}\tINVALID: not found (digest, entry 5 of the log)",
    ]


def test_a_file_moved_into_another_window_is_named_with_where_it_belongs() -> None:
    w = world()
    moved = LOGS.replace("/06/", "/07/") + "a"
    w.objects[(BUCKET, moved)] = w.objects.pop((BUCKET, LOGS + "a"))
    found = w.audit()
    assert found[0] == f"s3://{BUCKET}/{LOGS}a\tINVALID: not found (log file, entry 0 of the log)"
    assert found[1] == (
        f"s3://{BUCKET}/{moved}\tINVALID: not in the log: a copy of entry 0, s3://{BUCKET}/"
        f"{LOGS}a, delivered in the window of {DIGESTS}111122223333_CloudTrail-Digest_w0.json.gz"
    )


def test_a_truncated_log_is_caught_by_a_checkpoint_kept_from_before() -> None:
    """The newest digests and their files deleted, the log rolled back to an older
    checkpoint: every object that remains is consistent, but a kept checkpoint is not."""
    w = world()
    kept = w.notes[-1]
    older = w.notes[2]
    size = tlog.open_note(older, PUBLIC).size
    assert w.audit(note=older, entries=w.entries[:size], listed=[]) == []
    assert w.audit(note=older, entries=w.entries[:size], listed=[], kept=[("kept", kept)]) == [
        f"kept\tINVALID: the log was truncated: this checkpoint was signed for "
        f"{len(w.entries)} entries, the log in S3 has {size} (its newest "
        f"{len(w.entries) - size} entries, digests and log files, were removed)"
    ]


def test_a_rewritten_entry_does_not_hash_to_the_checkpoint() -> None:
    w = world()
    forged = [*w.entries]
    forged[0] = forged[0].replace(b'"hashValue":"', b'"hashValue":"0')
    assert w.audit(entries=forged) == [
        f"{ORIGIN}/tile/entries\tINVALID: the entries do not hash to the checkpoint's root"
    ]


def test_inclusion_and_consistency_proofs_verify_offline() -> None:
    w = world()
    index = 6  # file d (a, b, digest 0, c, digest 1, digest 2, d)
    bundle = audit.prove(w.entries, index, w.notes[-1], since=w.notes[1])
    bundle = json.loads(json.dumps(bundle))  # as a file would carry it
    body = w.objects[(BUCKET, LOGS + "d")].body
    assert audit.check_proof(bundle, PUBLIC, body) == []
    assert audit.check_proof(bundle, PUBLIC, gzip.compress(b"{}")) == [
        f"the file is not s3://{BUCKET}/{LOGS}d as logged: its SHA-256 is "
        f"{hashlib.sha256(b'{}').hexdigest()}, the log has "
        f"{json.loads(w.entries[index])['hashValue']}"
    ]
    forged = {**bundle, "entry": w.entries[0].decode()}
    assert "is not in the log" in audit.check_proof(forged, PUBLIC)[0]
    other = tlog.public_bytes(Ed25519PrivateKey.generate().public_key())
    assert audit.check_proof(bundle, other)[0].startswith("checkpoint: the checkpoint carries no")
