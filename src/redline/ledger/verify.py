"""Full verification: recompute the tree from the entries, check every checkpoint's signature,
its root against the recomputed tree, and the consistency of successive checkpoints.

The first problem found raises VerificationError naming it (the entry's index where there is
one); the caller reports it and fails.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from redline.errors import VerificationError
from redline.ledger import merkle
from redline.ledger.checkpoint import Checkpoint, open_checkpoint
from redline.ledger.merkle import EMPTY_ROOT, Frontier
from redline.ledger.note import Verifier
from redline.ledger.store import LedgerStore

Entries = Iterable[tuple[int, bytes, bytes | None]]
ConsistencyProofs = Callable[[int, int], list[bytes]]


@dataclass
class Report:
    size: int = 0
    root: bytes = EMPTY_ROOT
    checkpoints: list[Checkpoint] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def read_checkpoints(notes: Sequence[str], verifier: Verifier | None) -> list[Checkpoint]:
    out: list[Checkpoint] = []
    for k, note in enumerate(notes, start=1):
        try:
            if verifier is None:
                cp = Checkpoint.parse(note.split("\n\n", 1)[0] + "\n")
            else:
                cp = open_checkpoint(note, verifier)
        except VerificationError as exc:
            raise VerificationError(f"checkpoint #{k}: {exc}") from exc
        if out and cp.size < out[-1].size:
            raise VerificationError(
                f"checkpoint #{k} signs size {cp.size}, smaller than checkpoint #{k - 1}'s "
                f"{out[-1].size}: the log was rolled back"
            )
        out.append(cp)
    return out


def _check_entry(index: int, body: bytes, stored: bytes | None, check_stored: bool) -> bytes:
    try:
        seq = json.loads(body).get("seq")
    except (ValueError, AttributeError) as exc:
        raise VerificationError(f"entry {index} is not a JSON object: it was altered") from exc
    if seq != index:
        raise VerificationError(
            f"entry {index} carries sequence number {seq}: entries were deleted, moved or swapped"
        )
    h = merkle.leaf_hash(body)
    if check_stored and stored is None:
        raise VerificationError(f"entry {index} has no leaf hash in the node table")
    if stored is not None and stored != h:
        raise VerificationError(
            f"entry {index} hashes to {h.hex()} but its recorded leaf hash is {stored.hex()}: "
            "the entry was altered"
        )
    return h


def check_consistency(cps: Sequence[Checkpoint], consistency: ConsistencyProofs) -> None:
    """Each checkpoint's tree extends the one before it (RFC 9162 consistency proofs)."""
    for k in range(1, len(cps)):
        a, b = cps[k - 1], cps[k]
        if a.size == 0 or a.size == b.size:
            continue
        try:
            merkle.verify_consistency(a.size, b.size, consistency(a.size, b.size), a.root, b.root)
        except VerificationError as exc:
            raise VerificationError(
                f"checkpoints #{k} (size {a.size}) and #{k + 1} (size {b.size}) are not "
                f"consistent: {exc}"
            ) from exc


def verify_log(
    entries: Entries,
    size: int,
    notes: Sequence[str],
    verifier: Verifier | None,
    consistency: ConsistencyProofs | None = None,
    progress: Callable[[int], None] | None = None,
    check_stored: bool = True,
) -> Report:
    report = Report(size=size)
    if verifier is None:
        report.warnings.append("no public key given: checkpoint signatures were not checked")
    cps = read_checkpoints(notes, verifier)
    report.checkpoints = cps
    pending = [(k, cp) for k, cp in enumerate(cps, start=1)]
    frontier = Frontier()

    def check_roots() -> None:
        while pending and pending[0][1].size == frontier.size:
            k, cp = pending.pop(0)
            got = frontier.root()
            if got != cp.root:
                prev = max((c.size for c in cps[: k - 1]), default=0)
                raise VerificationError(
                    f"checkpoint #{k} signs root {cp.root.hex()} at size {cp.size} but the "
                    f"entries give {got.hex()}: an entry in [{prev}, {cp.size}) was altered"
                )

    check_roots()
    for index, body, stored in entries:
        if index != frontier.size:
            raise VerificationError(
                f"entry {frontier.size} is missing (the next stored entry is {index})"
            )
        frontier.append(_check_entry(index, body, stored, check_stored))
        check_roots()
        if progress is not None and frontier.size % 10_000 == 0:
            progress(frontier.size)
    # Truncation is checked after the entries, so a gap earlier on is named first.
    if cps and cps[-1].size > frontier.size:
        raise VerificationError(
            f"entry {frontier.size} is missing: the log holds {frontier.size} entries but "
            f"checkpoint #{len(cps)} signs size {cps[-1].size}: the log was truncated"
        )
    if frontier.size != size:
        raise VerificationError(f"entry {frontier.size} is missing: the log ends early")
    if progress is not None:
        progress(frontier.size)
    report.root = frontier.root()
    if consistency is not None:
        check_consistency(cps, consistency)
    if cps and cps[-1].size < size:
        report.warnings.append(
            f"entries {cps[-1].size}..{size - 1} are not yet covered by a signed checkpoint"
        )
    elif not cps and size:
        report.warnings.append("no signed checkpoint: the entries are checked only for integrity")
    return report


def verify_store(
    store: LedgerStore, verifier: Verifier | None, progress: Callable[[int], None] | None = None
) -> Report:
    """verify_log over a live store, its node table and its own consistency proofs."""
    size = store.size()
    return verify_log(
        store.scan(), size, store.checkpoints(), verifier, store.consistency_proof, progress
    )
