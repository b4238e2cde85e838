"""RFC 9162 Merkle tree hashing, proofs and proof verification, on hashlib.

A tree is reached through `get(level, index)`: the hash of the complete subtree of 2**level
leaves starting at leaf index * 2**level. Stores keep every such node, so a proof reads
O(log n) of them; `needed_nodes` says which ones before anything is read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

from redline.errors import VerificationError

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

NodeGetter = Callable[[int, int], bytes]


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def subtree_hash(get: NodeGetter, start: int, end: int) -> bytes:
    """MTH(D[start:end]) where start is aligned to the subtree's left edge in the full tree."""
    n = end - start
    if n == 0:
        return EMPTY_ROOT
    if n & (n - 1) == 0 and start % n == 0:
        level = n.bit_length() - 1
        return get(level, start >> level)
    k = _split(n)
    return node_hash(subtree_hash(get, start, start + k), subtree_hash(get, start + k, end))


def root_hash(get: NodeGetter, size: int) -> bytes:
    return subtree_hash(get, 0, size)


def inclusion_proof(get: NodeGetter, index: int, size: int) -> list[bytes]:
    """RFC 9162 2.1.3.1 PATH(index, D[0:size])."""
    if not 0 <= index < size:
        raise ValueError(f"index {index} is outside a tree of size {size}")
    path: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            path.append(subtree_hash(get, start + k, end))
            end = start + k
        else:
            path.append(subtree_hash(get, start, start + k))
            start += k
    path.reverse()
    return path


def consistency_proof(get: NodeGetter, size1: int, size2: int) -> list[bytes]:
    """RFC 9162 2.1.4.1 PROOF(size1, D[0:size2])."""
    if not 0 <= size1 <= size2:
        raise ValueError(f"no consistency proof from size {size1} to size {size2}")
    if size1 in (0, size2):
        return []
    proof: list[bytes] = []
    start, end, m, whole = 0, size2, size1, True
    while True:
        n = end - start
        if m == n:
            if not whole:
                proof.append(subtree_hash(get, start, end))
            break
        k = _split(n)
        if m <= k:
            proof.append(subtree_hash(get, start + k, end))
            end = start + k
        else:
            proof.append(subtree_hash(get, start, start + k))
            start, m, whole = start + k, m - k, False
    proof.reverse()
    return proof


def needed_nodes(plan: Callable[[NodeGetter], object]) -> list[tuple[int, int]]:
    """The (level, index) nodes `plan` reads, found by running it on placeholder hashes."""
    seen: dict[tuple[int, int], None] = {}

    def record(level: int, index: int) -> bytes:
        seen[(level, index)] = None
        return bytes(HASH_SIZE)

    plan(record)
    return list(seen)


class MemoryTree:
    """Every node of a tree held in memory: for tests, bundles and small logs."""

    def __init__(self, leaves: Iterable[bytes] = ()) -> None:
        self.levels: list[list[bytes]] = [[]]
        for h in leaves:
            self.append_hash(h)

    @property
    def size(self) -> int:
        return len(self.levels[0])

    def append_hash(self, h: bytes) -> None:
        level = 0
        self.levels[0].append(h)
        while len(self.levels[level]) % 2 == 0:
            row = self.levels[level]
            if len(self.levels) == level + 1:
                self.levels.append([])
            self.levels[level + 1].append(node_hash(row[-2], row[-1]))
            level += 1

    def get(self, level: int, index: int) -> bytes:
        return self.levels[level][index]

    def root(self, size: int | None = None) -> bytes:
        return root_hash(self.get, self.size if size is None else size)


class Frontier:
    """The right edge of a growing tree: one complete subtree per set bit of the size.

    Appending a leaf yields every node it completes, which is what a store writes.
    """

    def __init__(self, size: int = 0, nodes: Sequence[bytes] = ()) -> None:
        self.size = size
        # (level, hash) from the largest subtree to the smallest
        levels = [b for b in range(size.bit_length() - 1, -1, -1) if size >> b & 1]
        if len(levels) != len(nodes):
            raise ValueError("a frontier needs one node per set bit of its size")
        self.stack = list(zip(levels, nodes, strict=True))

    @staticmethod
    def node_keys(size: int) -> list[tuple[int, int]]:
        """The (level, index) of the frontier nodes of a tree of `size`, largest first."""
        keys, start = [], 0
        for b in range(size.bit_length() - 1, -1, -1):
            if size >> b & 1:
                keys.append((b, start >> b))
                start += 1 << b
        return keys

    def append(self, h: bytes) -> list[tuple[int, int, bytes]]:
        """Add a leaf hash; return the new nodes (level, index, hash), the leaf first."""
        index = self.size
        out = [(0, index, h)]
        self.stack.append((0, h))
        while len(self.stack) > 1 and self.stack[-1][0] == self.stack[-2][0]:
            (level, right), (_, left) = self.stack.pop(), self.stack.pop()
            combined = node_hash(left, right)
            self.stack.append((level + 1, combined))
            out.append((level + 1, index >> (level + 1), combined))
        self.size += 1
        return out

    def root(self) -> bytes:
        if not self.stack:
            return EMPTY_ROOT
        r = self.stack[-1][1]
        for _, h in reversed(self.stack[:-1]):
            r = node_hash(h, r)
        return r


def _check_hashes(what: str, hashes: Sequence[bytes]) -> None:
    for i, h in enumerate(hashes):
        if len(h) != HASH_SIZE:
            raise VerificationError(f"{what}[{i}] is {len(h)} bytes, expected {HASH_SIZE}")


def _mismatch(what: str, got: bytes, want: bytes) -> VerificationError:
    return VerificationError(f"{what} mismatch: computed {got.hex()}, expected {want.hex()}")


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """RFC 9162 2.1.3.2. Raises VerificationError saying what differs."""
    _check_hashes("proof", proof)
    _check_hashes("leaf", [leaf])
    # 1. the index must lie inside the tree
    if index >= size or index < 0:
        raise VerificationError(f"leaf index {index} is outside a tree of size {size}")
    # 2-3. walk from the leaf: fn is our node's index, sn the last node's, at each level
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        # 4a. a proof longer than the tree is high
        if sn == 0:
            raise VerificationError(f"inclusion proof has {len(proof)} hashes, too many")
        # 4b. a right child, or the last node of its level: the sibling is on the left
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            # 4b.ii. a last node without a right sibling rises until it is a right child
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        # 4c.
        fn, sn = fn >> 1, sn >> 1
    # 5. the walk must end at the root, with the root's hash
    if sn != 0:
        raise VerificationError(f"inclusion proof has {len(proof)} hashes, too few")
    if r != root:
        raise _mismatch("inclusion proof root", r, root)


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """RFC 9162 2.1.4.2: the subtree [0, size1) is consistent with the tree of size2 (the
    walk is verify_subtree_consistency's). Raises VerificationError saying what differs."""
    if size1 < 0 or size2 < size1:
        raise VerificationError(f"size {size2} is smaller than size {size1}")
    # an empty tree commits to nothing, so no proof from it means anything
    if size1 == 0:
        raise VerificationError("no consistency proof starts from an empty tree")
    verify_subtree_consistency(0, size1, size2, proof, root1, root2)


def is_subtree(start: int, end: int) -> bool:
    """[start, end) is a node of some Merkle tree: non-empty, and start aligned to the
    smallest power of two that holds end - start leaves (draft-ietf-plants-merkle-tree-certs
    4.1)."""
    if not 0 <= start < end:
        return False
    width = 1 << (end - start - 1).bit_length()
    return start % width == 0


def _verify_empty_subtree(start: int, end: int, proof: Sequence[bytes], subtree: bytes) -> None:
    """An empty interval is consistent with any tree, but only as the empty tree's hash
    with an empty proof."""
    if proof:
        raise VerificationError("an empty subtree needs an empty consistency proof")
    if subtree != EMPTY_ROOT:
        raise _mismatch(f"hash of the empty subtree [{start}, {end})", subtree, EMPTY_ROOT)


def verify_subtree_consistency(
    start: int, end: int, size: int, proof: Sequence[bytes], subtree: bytes, root: bytes
) -> None:
    """That the subtree [start, end) with hash `subtree` is part of the tree of `size` leaves
    with hash `root` (draft-ietf-plants-merkle-tree-certs 4.4.3; with start 0 it is RFC 9162's
    consistency proof). Raises VerificationError saying what differs."""
    _check_hashes("proof", proof)
    # 0. an empty interval commits to nothing: it is consistent with any tree
    if start == end and 0 <= end <= size:
        _verify_empty_subtree(start, end, proof, subtree)
        return
    # 1. the interval must be a subtree, inside the tree
    if not is_subtree(start, end):
        raise VerificationError(f"[{start}, {end}) is not a subtree")
    if end > size:
        raise VerificationError(f"subtree [{start}, {end}) ends beyond a tree of size {size}")
    # 2. fn: the subtree's first leaf, sn: its last, tn: the tree's last
    fn, sn, tn = start, end - 1, size - 1
    # 3. a subtree that ends the tree rises until it is one node;
    # 4. otherwise it rises past the levels where its last node is a right child
    if sn == tn:
        while fn != sn:
            fn, sn, tn = fn >> 1, sn >> 1, tn >> 1
    else:
        while fn != sn and sn & 1:
            fn, sn, tn = fn >> 1, sn >> 1, tn >> 1
    # 5-6. fr rebuilds the subtree's hash, sr the tree's; both start from the subtree's
    # own hash when it is one node, else from the proof's first hash
    path = list(proof)
    if fn == sn:
        fr = sr = subtree
    elif path:
        fr = sr = path.pop(0)
    else:
        raise VerificationError(f"empty proof for [{start}, {end}), which is not one node")
    for c in path:
        # 7a. more hashes than the tree is high
        if tn == 0:
            raise VerificationError(f"subtree consistency proof has {len(proof)} hashes, too many")
        # 7b. left sibling: both take it (the subtree only while it is not yet whole);
        # right sibling: only the tree does
        if sn & 1 or sn == tn:
            if fn < sn:
                fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not sn & 1 and sn != 0:
                fn, sn, tn = fn >> 1, sn >> 1, tn >> 1
        else:
            sr = node_hash(sr, c)
        # 7c.
        fn, sn, tn = fn >> 1, sn >> 1, tn >> 1
    # 8. the walk must reach the top, and both hashes must match
    if tn != 0:
        raise VerificationError(f"subtree consistency proof has {len(proof)} hashes, too few")
    if fr != subtree:
        what = f"root at size {end}" if start == 0 else f"hash of subtree [{start}, {end})"
        raise _mismatch(what, fr, subtree)
    if sr != root:
        raise _mismatch(f"root at size {size}", sr, root)
