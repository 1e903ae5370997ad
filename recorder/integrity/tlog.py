"""The Merkle log beside each digest chain: C2SP tlog-tiles and tlog-checkpoint. Pure.

Every log file a digest lists, and every digest (hourly and backfill), is an entry
of an append-only log per chain (trail, account folder, region), stored in the
trail's bucket next to its digests::

    [prefix/]AWSLogs/[org/]<account>/CloudTrail-Tlog/<region>/<trail>_<home-region>/
        checkpoint                     the newest signed checkpoint
        tile/<L>/<N>[.p/<W>]           Merkle tree hashes, 256 to a tile (c2sp.org/tlog-tiles)
        tile/entries/<N>[.p/<W>]       the entries, uint16-length-prefixed

Entries are compact JSON naming the object and its SHA-256 (of the uncompressed
bytes, as ``hashValue``); a log file's entry also names the digest that lists it, so
the log binds each file to its window. A checkpoint is a C2SP signed note over
``<origin>\\n<size>\\n<base64 root>\\n``, signed with the region's Ed25519 log key;
each digest carries the checkpoint of the log after its own log files
(``recorderCheckpoint``, a field validate-logs ignores), and its own entry follows.
A verifier with only the public key can then prove a file's inclusion, and the
log's consistency from any checkpoint it saw before: what a chain of digests alone
cannot (README, "Proofs beyond CloudTrail").
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from recorder.aws.s3 import prefixed
from recorder.integrity.manifest import LogFileManifest
from recorder.integrity.merkle import CompactRange, leaf_hash, root
from recorder.trails.destination import Destination

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT  # 256 hashes, or entries, to a full tile
HASH_SIZE = 32
ED25519 = b"\x01"  # the signed-note signature type of Ed25519
#: The digest field carrying the log's checkpoint (validate-logs ignores fields it
#: does not know; the digest's signature covers it like every other byte).
CHECKPOINT_FIELD = "recorderCheckpoint"


class CheckpointError(ValueError):
    """A checkpoint that does not parse, is for another log, or is not signed by the key."""


# -- where things are ------------------------------------------------------------------


def log_folder(chain: Destination, prefix: str | None) -> str:
    folder = "AWSLogs/" + (f"{chain.org_id}/" if chain.org_id else "")
    folder += (
        f"{chain.account_id}/CloudTrail-Tlog/{chain.region}/{chain.trail_name}_{chain.home_region}"
    )
    return prefixed(prefix, folder)


def origin(bucket: str, chain: Destination, prefix: str | None) -> str:
    """The log's identity (the checkpoint's first line and the key name): where it is."""
    return f"{bucket}/{log_folder(chain, prefix)}"


def split_origin(name: str) -> tuple[str, str]:
    """(bucket, folder) of an origin."""
    bucket, _, folder = name.partition("/")
    return bucket, folder


def encode_index(n: int) -> str:
    """``1234067`` -> ``x001/x234/067``: zero-padded 3-digit elements, all but the last
    with an ``x``."""
    parts = [f"{n % 1000:03d}"]
    n //= 1000
    while n:
        parts.append(f"x{n % 1000:03d}")
        n //= 1000
    return "/".join(reversed(parts))


def tile_path(level: int | str, index: int, width: int = TILE_WIDTH) -> str:
    path = f"tile/{level}/{encode_index(index)}"
    return path if width == TILE_WIDTH else f"{path}.p/{width}"


def entries_path(index: int, width: int = TILE_WIDTH) -> str:
    return tile_path("entries", index, width)


# -- entries ---------------------------------------------------------------------------


def _entry(doc: Mapping[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()


def log_file_entry(m: LogFileManifest, digest_key: str) -> bytes:
    return _entry(
        {
            "type": "log",
            "s3Bucket": m.bucket,
            "s3Object": m.key,
            "hashValue": m.sha256,
            "deliveryTime": m.delivery_time,
            "digestS3Object": digest_key,
        }
    )


def file_entries(files: Iterable[LogFileManifest], digest_key: str) -> list[bytes]:
    """The entries of a digest's log files, in the digest's order (one per object)."""
    latest = {(f.bucket, f.key): f for f in files}
    return [log_file_entry(f, digest_key) for _, f in sorted(latest.items())]


def digest_entry(bucket: str, key: str, sha256: str, signature: str) -> bytes:
    return _entry(
        {
            "type": "digest",
            "s3Bucket": bucket,
            "s3Object": key,
            "hashValue": sha256,
            "signature": signature,
        }
    )


def parse_entry(entry: bytes) -> dict[str, Any]:
    doc = json.loads(entry)
    if not isinstance(doc, dict) or doc.get("type") not in ("log", "digest"):
        raise ValueError("not a log entry")
    return doc


def bundle(entries: Sequence[bytes]) -> bytes:
    out = bytearray()
    for e in entries:
        if len(e) > 0xFFFF:
            raise ValueError("a log entry is longer than 65535 bytes")
        out += struct.pack(">H", len(e)) + e
    return bytes(out)


def unbundle(data: bytes) -> list[bytes]:
    out, i = [], 0
    while i < len(data):
        if i + 2 > len(data):
            raise ValueError("truncated entry bundle")
        (n,) = struct.unpack(">H", data[i : i + 2])
        if i + 2 + n > len(data):
            raise ValueError("truncated entry bundle")
        out.append(data[i + 2 : i + 2 + n])
        i += 2 + n
    return out


def tile_hashes(data: bytes) -> list[bytes]:
    if len(data) % HASH_SIZE:
        raise ValueError("a tile is a whole number of hashes")
    return [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]


# -- checkpoints (c2sp.org/tlog-checkpoint, c2sp.org/signed-note) ------------------------


@dataclass(frozen=True, slots=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def text(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"


def public_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(name: str, public: bytes) -> bytes:
    """SHA-256(key name || 0x0A || 0x01 || public key)[:4] (signed-note, Ed25519)."""
    return hashlib.sha256(name.encode() + b"\n" + ED25519 + public).digest()[:4]


def vkey(name: str, public: bytes) -> str:
    """The verifier key string Go's ``note`` package reads: ``name+hexid+base64``."""
    return f"{name}+{key_id(name, public).hex()}+{base64.b64encode(ED25519 + public).decode()}"


def public_key_from(text: str) -> bytes:
    """An Ed25519 public key given as base64 (32 bytes) or as a verifier key string."""
    text = text.strip()
    parts = text.split("+", 2)  # a key name has no "+"; base64 may
    if len(parts) == 3 and len(parts[1]) == 8 and all(c in "0123456789abcdef" for c in parts[1]):
        raw = base64.b64decode(parts[2])
        if len(raw) != 33 or raw[:1] != ED25519 or key_id(parts[0], raw[1:]).hex() != parts[1]:
            raise CheckpointError("not an Ed25519 verifier key")
        return raw[1:]
    raw = base64.b64decode(text)
    if len(raw) != 32:
        raise CheckpointError("an Ed25519 public key is 32 bytes")
    return raw


def sign(checkpoint: Checkpoint, key: Ed25519PrivateKey) -> str:
    """The signed note: text, a blank line, ``— <origin> <base64(key id || signature)>``."""
    text = checkpoint.text()
    public = public_bytes(key.public_key())
    signature = key_id(checkpoint.origin, public) + key.sign(text.encode())
    return f"{text}\n\u2014 {checkpoint.origin} {base64.b64encode(signature).decode()}\n"


def open_note(note: str, public: bytes, expected_origin: str | None = None) -> Checkpoint:
    """The checkpoint of a signed note, verified against ``public`` (raises CheckpointError).

    The key name is the origin; a signature line of another key is ignored, as the
    signed-note spec requires, but one that names this key must verify.
    """
    text, sep, signatures = note.rpartition("\n\n")
    if not sep:
        raise CheckpointError("not a signed note (no blank line before the signatures)")
    text += "\n"
    lines = text.split("\n")
    if len(lines) < 4:
        raise CheckpointError("a checkpoint has an origin, a size and a root hash")
    name, size_text, root_text = lines[0], lines[1], lines[2]
    if expected_origin is not None and name != expected_origin:
        raise CheckpointError(f"the checkpoint is for {name!r}, not {expected_origin!r}")
    try:
        size = int(size_text)
        tree_root = base64.b64decode(root_text, validate=True)
    except ValueError:
        raise CheckpointError("the checkpoint's size or root hash does not parse") from None
    if size < 0 or str(size) != size_text or len(tree_root) != HASH_SIZE:
        raise CheckpointError("the checkpoint's size or root hash does not parse")
    wanted = key_id(name, public)
    verified = False
    for line in signatures.splitlines():
        if not line:
            continue
        dash, _, rest = line.partition(" ")
        signer, _, encoded = rest.partition(" ")
        if dash != "\u2014" or not encoded:
            raise CheckpointError("a signature line does not parse")
        raw = base64.b64decode(encoded)
        if signer != name or raw[:4] != wanted:
            continue  # another key's signature: ignored
        try:
            Ed25519PublicKey.from_public_bytes(public).verify(raw[4:], text.encode())
        except InvalidSignature:
            raise CheckpointError(f"the checkpoint's signature by {name} does not verify") from None
        verified = True
    if not verified:
        raise CheckpointError(f"the checkpoint carries no signature by the key of {name}")
    return Checkpoint(name, size, tree_root)


# -- the log's state and its growth ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class LogState:
    """What the chain state keeps of its log: where it is, its size, its compact range."""

    origin: str
    tree: CompactRange = field(default_factory=CompactRange)

    @property
    def size(self) -> int:
        return self.tree.size

    def to_json(self) -> dict[str, Any]:
        return {
            "origin": self.origin,
            "size": self.tree.size,
            "peaks": [base64.b64encode(p).decode() for p in self.tree.peaks],
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> LogState:
        peaks = tuple(base64.b64decode(p) for p in doc["peaks"])
        size = int(doc["size"])
        if len(peaks) != bin(size).count("1"):
            raise ValueError("a log state's peaks do not match its size")
        return cls(str(doc["origin"]), CompactRange(size, peaks))


@dataclass(frozen=True, slots=True)
class Frontier:
    """The rightmost (partial) tile of every level and the partial entry bundle: what
    appending needs besides the compact range. ``levels[L]`` holds the hashes of
    level L's partial tile, ``entries`` the entries of the partial bundle."""

    size: int
    levels: tuple[tuple[bytes, ...], ...] = ()
    entries: tuple[bytes, ...] = ()


def append(frontier: Frontier, new: Sequence[bytes]) -> tuple[Frontier, dict[str, bytes]]:
    """Append entries: the new frontier and the tiles and bundles to write (path ->
    bytes): every tile completed on the way, and the partial ones of the new size."""
    levels = [list(level) for level in frontier.levels]
    entries = list(frontier.entries)
    writes: dict[str, bytes] = {}
    size = frontier.size
    for entry in new:
        entries.append(entry)
        carry: bytes | None = leaf_hash(entry)
        size += 1
        if len(entries) == TILE_WIDTH:
            writes[entries_path((size - 1) // TILE_WIDTH)] = bundle(entries)
            entries = []
        level = 0
        while carry is not None:
            if len(levels) <= level:
                levels.append([])
            levels[level].append(carry)
            carry = None
            if len(levels[level]) == TILE_WIDTH:
                index = (size - 1) // (TILE_WIDTH ** (level + 1))
                writes[tile_path(level, index)] = b"".join(levels[level])
                carry = root(levels[level])
                levels[level] = []
                level += 1
    for level, hashes in enumerate(levels):
        if hashes:
            index = size // (TILE_WIDTH ** (level + 1))
            writes[tile_path(level, index, len(hashes))] = b"".join(hashes)
    if entries:
        writes[entries_path(size // TILE_WIDTH, len(entries))] = bundle(entries)
    while levels and not levels[-1]:
        levels.pop()
    return Frontier(size, tuple(tuple(h) for h in levels), tuple(entries)), writes


def frontier_paths(size: int) -> tuple[list[tuple[int, str]], str | None]:
    """The partial tiles (level, path) and the partial bundle a log of ``size`` has."""
    tiles = []
    level = 0
    while TILE_WIDTH**level <= size:
        width = (size // TILE_WIDTH**level) % TILE_WIDTH
        if width:
            tiles.append((level, tile_path(level, size // TILE_WIDTH ** (level + 1), width)))
        level += 1
    width = size % TILE_WIDTH
    return tiles, (entries_path(size // TILE_WIDTH, width) if width else None)


def frontier_from(size: int, tiles: Mapping[int, bytes], entries: bytes | None) -> Frontier:
    """A frontier from the partial tiles and bundle read back (``frontier_paths``)."""
    top = max(tiles, default=-1)
    levels = tuple(
        tuple(tile_hashes(tiles[level])) if level in tiles else () for level in range(top + 1)
    )
    return Frontier(size, levels, tuple(unbundle(entries)) if entries else ())


def leaf_hashes_of(entries: Iterable[bytes]) -> list[bytes]:
    return [leaf_hash(e) for e in entries]


def read_bundles(size: int, read: Callable[[str], bytes | None]) -> list[bytes]:
    """Every entry of a log of ``size``, from its bundles (raises LookupError naming a
    missing bundle)."""
    out: list[bytes] = []
    for index in range((size + TILE_WIDTH - 1) // TILE_WIDTH):
        width = min(TILE_WIDTH, size - index * TILE_WIDTH)
        path = entries_path(index, width)
        data = read(path)
        if data is None and width < TILE_WIDTH:
            full = read(entries_path(index))  # the partial one may be gone once full
            data = bundle(unbundle(full)[:width]) if full is not None else None
        if data is None:
            raise LookupError(path)
        got = unbundle(data)
        if len(got) != width:
            raise ValueError(f"{path} holds {len(got)} entries, not {width}")
        out += got
    return out


def tile_at(level: int, index: int, size: int) -> str:
    """The path of a level's tile ``index`` as a log of ``size`` serves it (full or partial)."""
    span = TILE_WIDTH**level
    if (index + 1) * TILE_WIDTH * span <= size:
        return tile_path(level, index)
    return tile_path(level, index, (size // span) % TILE_WIDTH)


def compact_range_from_tiles(size: int, read: Callable[[str], bytes | None]) -> CompactRange:
    """The compact range of a log of ``size`` from its tiles (raises LookupError naming a
    missing tile): each perfect subtree's root from the hashes of the highest level whose
    entries it is made of."""
    peaks: list[bytes] = []
    start = 0
    cache: dict[str, list[bytes]] = {}
    for height in reversed(range(size.bit_length())):
        if not size >> height & 1:
            continue
        level = height // TILE_HEIGHT
        span = TILE_WIDTH**level
        first, count = start // span, (1 << height) // span
        path = tile_at(level, first // TILE_WIDTH, size)
        if path not in cache:
            data = read(path)
            if data is None:
                raise LookupError(path)
            cache[path] = tile_hashes(data)
        offset = first % TILE_WIDTH
        peaks.append(root(cache[path][offset : offset + count]))
        start += 1 << height
    return CompactRange(size, tuple(peaks))
