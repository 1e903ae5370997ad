"""RFC 6962 hashing and proofs: every leaf's inclusion and every prefix's consistency
verify, and a changed hash, index or size does not."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from recorder.integrity.merkle import (
    EMPTY_ROOT,
    CompactRange,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)


def leaves(n: int) -> list[bytes]:
    return [leaf_hash(f"entry {i}".encode()) for i in range(n)]


def test_hashes_are_rfc_6962s() -> None:
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert root([]) == EMPTY_ROOT == hashlib.sha256(b"").digest()
    a, b, c = leaves(3)
    assert root([a, b, c]) == node_hash(node_hash(a, b), c)  # split at the largest 2^k < n
    # RFC 6962's test vector: the empty leaf
    assert leaf_hash(b"").hex() == (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )


@given(st.integers(min_value=0, max_value=300))
def test_the_compact_range_gives_the_root_of_every_size(n: int) -> None:
    hashes = leaves(n)
    compact = CompactRange().extend(hashes)
    assert compact.size == n
    assert compact.root() == root(hashes)
    assert len(compact.peaks) == bin(n).count("1")


@given(st.integers(min_value=1, max_value=70), st.data())
def test_inclusion_proofs_verify_and_tampering_does_not(n: int, data: st.DataObject) -> None:
    hashes = leaves(n)
    top = root(hashes)
    i = data.draw(st.integers(min_value=0, max_value=n - 1))
    proof = inclusion_proof(i, hashes)
    assert verify_inclusion(i, n, hashes[i], proof, top)
    assert not verify_inclusion(i, n, leaf_hash(b"forged"), proof, top)
    if n > 1:
        assert not verify_inclusion((i + 1) % n, n, hashes[i], proof, top)
    assert not verify_inclusion(i, n, hashes[i], [*proof, hashes[0]], top)


@given(st.integers(min_value=1, max_value=70), st.data())
def test_consistency_proofs_verify_and_a_rewritten_prefix_does_not(
    n: int, data: st.DataObject
) -> None:
    hashes = leaves(n)
    m = data.draw(st.integers(min_value=1, max_value=n))
    proof = consistency_proof(m, hashes)
    assert verify_consistency(m, n, root(hashes[:m]), root(hashes), proof)
    rewritten = [*hashes[: m - 1], leaf_hash(b"swapped"), *hashes[m:]]
    assert not verify_consistency(m, n, root(rewritten[:m]), root(hashes), proof)
    if m < n:
        assert not verify_consistency(m, n, root(hashes[:m]), root(rewritten), proof)
