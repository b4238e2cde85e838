"""RFC 9162 hashing and proofs: the shared conformance vectors, known roots, and properties."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from redline.errors import VerificationError
from redline.ledger import merkle
from redline.ledger.merkle import (
    Frontier,
    MemoryTree,
    is_subtree,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
    verify_subtree_consistency,
)

# The shared conformance vectors are read where they live, never copied in: by default
# ../shared/conformance beside the checkout; a clone elsewhere sets REDLINE_CONFORMANCE_DIR.
BESIDE = Path(__file__).parents[3] / "shared" / "conformance"
CONFORMANCE = Path(os.environ.get("REDLINE_CONFORMANCE_DIR") or BESIDE)
VECTORS = CONFORMANCE / "rfc9162-merkle" / "testdata"


def _cases(kind: str) -> list[Any]:
    files = sorted((VECTORS / kind).rglob("*.json"))
    return [pytest.param(json.loads(f.read_text()), id=f"{f.parent.name}/{f.stem}") for f in files]


def _b(v: str | None) -> bytes:
    return base64.b64decode(v) if v else b""


def _proof(case: dict[str, Any]) -> list[bytes]:
    return [_b(p) for p in case["proof"] or []]


def test_vectors_are_there() -> None:
    # the parametrised tests below would pass vacuously on an empty folder
    assert VECTORS.is_dir(), f"no conformance vectors at {VECTORS}: set REDLINE_CONFORMANCE_DIR"
    assert len(_cases("inclusion")) >= 60
    assert len(_cases("consistency")) >= 60
    assert len(_cases("subtreeinclusion")) >= 60
    assert len(_cases("subtreeconsistency")) >= 60


@pytest.mark.parametrize("case", _cases("inclusion"))
def test_inclusion_vectors(case: dict[str, Any]) -> None:
    args = (_b(case["leafHash"]), case["leafIdx"], case["treeSize"], _proof(case))
    if case["wantErr"]:
        with pytest.raises(VerificationError):
            verify_inclusion(*args, _b(case["root"]))
    else:
        verify_inclusion(*args, _b(case["root"]))


@pytest.mark.parametrize("case", _cases("consistency"))
def test_consistency_vectors(case: dict[str, Any]) -> None:
    args = (case["size1"], case["size2"], _proof(case), _b(case["root1"]), _b(case["root2"]))
    if case["wantErr"]:
        with pytest.raises(VerificationError):
            verify_consistency(*args)
    else:
        verify_consistency(*args)


def _verify_subtree_inclusion(case: dict[str, Any]) -> None:
    start, end = case["start"], case["end"]
    if not is_subtree(start, end):
        raise VerificationError(f"[{start}, {end}) is not a subtree")
    if not start <= case["leafIdx"] < end:
        raise VerificationError(f"leaf {case['leafIdx']} is outside [{start}, {end})")
    verify_inclusion(
        _b(case["leafHash"]), case["leafIdx"] - start, end - start, _proof(case), _b(case["root"])
    )


@pytest.mark.parametrize("case", _cases("subtreeinclusion"))
def test_subtree_inclusion_vectors(case: dict[str, Any]) -> None:
    if case["wantErr"]:
        with pytest.raises(VerificationError):
            _verify_subtree_inclusion(case)
    else:
        _verify_subtree_inclusion(case)


@pytest.mark.parametrize("case", _cases("subtreeconsistency"))
def test_subtree_consistency_vectors(case: dict[str, Any]) -> None:
    args = (case["start"], case["end"], case["size"], _proof(case))
    hashes = (_b(case["root1"]), _b(case["root2"]))
    if case["wantErr"]:
        with pytest.raises(VerificationError):
            verify_subtree_consistency(*args, *hashes)
    else:
        verify_subtree_consistency(*args, *hashes)


# RFC 6962 reference leaves and the roots of their first n, from certificate-transparency.
LEAVES = [bytes.fromhex(h) for h in
          ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
           "606162636465666768696a6b6c6d6e6f"]]  # fmt: skip
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def test_known_roots() -> None:
    tree = MemoryTree(leaf_hash(x) for x in LEAVES)
    frontier = Frontier()
    assert tree.root(0).hex() == hashlib.sha256(b"").hexdigest()
    for n, want in enumerate(ROOTS, start=1):
        frontier.append(leaf_hash(LEAVES[n - 1]))
        assert tree.root(n).hex() == want
        assert frontier.root().hex() == want


def test_known_hashes() -> None:
    assert leaf_hash(b"").hex() == (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )
    l0, l1 = leaf_hash(b""), leaf_hash(b"\x00")
    assert merkle.node_hash(l0, l1).hex() == ROOTS[1]


def _naive_root(leaves: list[bytes]) -> bytes:
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << (len(leaves) - 1).bit_length() - 1
    return merkle.node_hash(_naive_root(leaves[:k]), _naive_root(leaves[k:]))


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 70), data=st.data())
def test_proofs_round_trip(n: int, data: st.DataObject) -> None:
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(n)]
    tree = MemoryTree(leaves)
    assert tree.root() == _naive_root(leaves)
    index = data.draw(st.integers(0, n - 1))
    size = data.draw(st.integers(index + 1, n))
    proof = merkle.inclusion_proof(tree.get, index, size)
    verify_inclusion(leaves[index], index, size, proof, tree.root(size))
    with pytest.raises(VerificationError, match=r"mismatch|too"):
        verify_inclusion(leaves[index], index, size, proof, tree.root(size - 1) + b"")
    size1 = data.draw(st.integers(1, n))
    size2 = data.draw(st.integers(size1, n))
    cproof = merkle.consistency_proof(tree.get, size1, size2)
    verify_consistency(size1, size2, cproof, tree.root(size1), tree.root(size2))
    # From the first leaf, a subtree consistency proof is the RFC 9162 one.
    verify_subtree_consistency(0, size1, size2, cproof, tree.root(size1), tree.root(size2))
    if size1 < size2:
        bad = bytes(32)
        with pytest.raises(VerificationError):
            verify_consistency(size1, size2, cproof, bad, tree.root(size2))
        with pytest.raises(VerificationError):
            verify_consistency(size1, size2, cproof, tree.root(size1), bad)


def test_frontier_restores_from_its_nodes() -> None:
    tree = MemoryTree(leaf_hash(bytes([i])) for i in range(13))
    keys = Frontier.node_keys(13)
    assert keys == [(3, 0), (2, 2), (0, 12)]
    frontier = Frontier(13, [tree.get(*k) for k in keys])
    assert frontier.root() == tree.root()
    new = frontier.append(leaf_hash(b"x"))
    tree.append_hash(leaf_hash(b"x"))
    assert new == [(0, 13, tree.get(0, 13)), (1, 6, tree.get(1, 6))]
    assert frontier.root() == tree.root()


def test_needed_nodes_is_logarithmic() -> None:
    size = 1_000_003
    keys = merkle.needed_nodes(lambda get: merkle.inclusion_proof(get, 777, size))
    assert len(keys) <= 2 * size.bit_length()
    keys = merkle.needed_nodes(lambda get: merkle.consistency_proof(get, 500_001, size))
    assert len(keys) <= 2 * size.bit_length()


def test_errors_say_what_differs() -> None:
    tree = MemoryTree(leaf_hash(x) for x in LEAVES)
    proof = merkle.inclusion_proof(tree.get, 2, 8)
    with pytest.raises(VerificationError, match=r"computed [0-9a-f]{64}, expected 0{64}"):
        verify_inclusion(tree.get(0, 2), 2, 8, proof, bytes(32))
    with pytest.raises(VerificationError, match="outside"):
        verify_inclusion(tree.get(0, 2), 8, 8, proof, tree.root())
