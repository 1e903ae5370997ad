"""The Merkle log's storage (C2SP tlog-tiles) and checkpoints (C2SP tlog-checkpoint)."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from recorder.integrity import tlog
from recorder.integrity.merkle import CompactRange, leaf_hash, root
from recorder.trails.destination import Destination

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
CHAIN = Destination(
    "arn:aws:cloudtrail:us-east-1:123456789012:trail/t", "123456789012", "us-east-2"
)


def entries(n: int, start: int = 0) -> list[bytes]:
    return [f'{{"n":{i}}}'.encode() for i in range(start, start + n)]


def test_paths_are_the_specs() -> None:
    assert tlog.encode_index(1234067) == "x001/x234/067"
    assert tlog.encode_index(0) == "000"
    assert tlog.tile_path(0, 1234067) == "tile/0/x001/x234/067"
    assert tlog.tile_path(2, 5, 17) == "tile/2/005.p/17"
    assert tlog.entries_path(3, 112) == "tile/entries/003.p/112"
    assert tlog.log_folder(CHAIN, "p") == (
        "p/AWSLogs/123456789012/CloudTrail-Tlog/us-east-2/t_us-east-1"
    )
    # the spec's example: 70,000 entries
    tiles, bundle = tlog.frontier_paths(70_000)
    assert [p for _, p in tiles] == ["tile/0/273.p/112", "tile/1/001.p/17", "tile/2/000.p/1"]
    assert bundle == "tile/entries/273.p/112"
    assert [p for _, p in tlog.frontier_paths(256)[0]] == ["tile/1/000.p/1"]


def test_appending_writes_full_and_partial_tiles_whose_hashes_are_the_trees() -> None:
    store: dict[str, bytes] = {}
    frontier = tlog.Frontier(0)
    all_entries: list[bytes] = []
    for batch in (3, 250, 5, 300):  # crosses a tile boundary twice
        new = entries(batch, len(all_entries))
        frontier, writes = tlog.append(frontier, new)
        store.update(writes)
        all_entries += new
    size = len(all_entries)
    assert size == frontier.size == 558
    assert store["tile/0/000"] == b"".join(leaf_hash(e) for e in all_entries[:256])
    assert store["tile/0/001"] == b"".join(leaf_hash(e) for e in all_entries[256:512])
    assert store["tile/0/002.p/46"] == b"".join(leaf_hash(e) for e in all_entries[512:])
    level1 = [root([leaf_hash(e) for e in all_entries[i : i + 256]]) for i in (0, 256)]
    assert store["tile/1/000.p/2"] == b"".join(level1)
    assert tlog.unbundle(store["tile/entries/002.p/46"]) == all_entries[512:]
    assert tlog.read_bundles(size, store.get) == all_entries
    # the compact range can be rebuilt from the tiles alone
    assert tlog.compact_range_from_tiles(size, store.get) == CompactRange().extend(
        [leaf_hash(e) for e in all_entries]
    )
    # and the frontier from the partial tiles
    tiles, bundle_path = tlog.frontier_paths(size)
    rebuilt = tlog.frontier_from(
        size, {level: store[p] for level, p in tiles}, store[bundle_path] if bundle_path else None
    )
    assert rebuilt == frontier


@settings(max_examples=30)
@given(st.lists(st.integers(min_value=1, max_value=300), min_size=1, max_size=4))
def test_any_sequence_of_appends_is_one_log(batches: list[int]) -> None:
    store: dict[str, bytes] = {}
    frontier = tlog.Frontier(0)
    n = 0
    for b in batches:
        frontier, writes = tlog.append(frontier, entries(b, n))
        store.update(writes)
        n += b
    hashes = [leaf_hash(e) for e in entries(n)]
    assert tlog.compact_range_from_tiles(n, store.get).root() == root(hashes)


def test_checkpoints_are_signed_notes_that_open_with_the_public_key_only() -> None:
    public = tlog.public_bytes(KEY.public_key())
    name = tlog.origin("b", CHAIN, None)
    cp = tlog.Checkpoint(name, 12, leaf_hash(b"x"))
    note = tlog.sign(cp, KEY)
    text, _, signature = note.partition("\n\n")
    assert text == f"{name}\n12\n{base64.b64encode(cp.root).decode()}"
    assert signature.startswith(f"\u2014 {name} ")
    assert base64.b64decode(signature.split()[-1])[:4] == tlog.key_id(name, public)
    assert tlog.open_note(note, public, name) == cp
    assert tlog.public_key_from(tlog.vkey(name, public)) == public
    assert tlog.public_key_from(base64.b64encode(public).decode()) == public
    with pytest.raises(tlog.CheckpointError, match="does not verify"):
        tlog.open_note(note.replace("\n12\n", "\n13\n"), public)
    with pytest.raises(tlog.CheckpointError, match="is for"):
        tlog.open_note(note, public, "other/origin")
    other = tlog.public_bytes(Ed25519PrivateKey.generate().public_key())
    with pytest.raises(tlog.CheckpointError, match="no signature by the key"):
        tlog.open_note(note, other)
