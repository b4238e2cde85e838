"""An audit bundle: everything an auditor needs offline, checked with the public key alone.

DIR/entries.jsonl      one entry a line, the exact bytes that were hashed
DIR/checkpoints.json   the signed checkpoint notes, oldest first
DIR/proofs.json        consistency proofs between successive checkpoints
DIR/ledger.pub         the log's verifier key (for reference: trust the one you were given)
"""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import Callable, Iterator
from pathlib import Path

from redline.errors import InputError, VerificationError
from redline.ledger.note import Verifier
from redline.ledger.store import LedgerStore
from redline.ledger.verify import Report, read_checkpoints, verify_log

FORMAT = "redline-ledger-bundle/1"


def export_bundle(store: LedgerStore, out: Path, verifier: Verifier | None) -> int:
    """Write the bundle; return the number of entries written."""
    out.mkdir(parents=True, exist_ok=True)
    notes = store.checkpoints()
    count = 0
    with (out / "entries.jsonl").open("wb") as f:
        for _, body, _ in store.scan():
            f.write(body + b"\n")
            count += 1
    cps = read_checkpoints(notes, None)
    proofs = [
        {"from": a.size, "to": b.size,
         "proof": [base64.b64encode(h).decode() for h in store.consistency_proof(a.size, b.size)]}
        for a, b in itertools.pairwise(cps)
        if 0 < a.size < b.size
    ]  # fmt: skip
    (out / "checkpoints.json").write_text(json.dumps(notes, indent=1, ensure_ascii=False))
    (out / "proofs.json").write_text(
        json.dumps({"format": FORMAT, "size": count, "consistency": proofs}, indent=1)
    )
    if verifier is not None:
        (out / "ledger.pub").write_text(verifier.text() + "\n")
    return count


def _entries(path: Path) -> Iterator[tuple[int, bytes, bytes | None]]:
    with path.open("rb") as f:
        for i, line in enumerate(f):
            yield i, line.rstrip(b"\n"), None


def verify_bundle(
    folder: Path, verifier: Verifier, progress: Callable[[int], None] | None = None
) -> Report:
    try:
        notes = json.loads((folder / "checkpoints.json").read_text("utf-8"))
        meta = json.loads((folder / "proofs.json").read_text("utf-8"))
        with (folder / "entries.jsonl").open("rb") as f:
            size = sum(1 for _ in f)
    except (OSError, ValueError) as exc:
        raise InputError(f"{folder} is not a readable ledger bundle: {exc}") from exc
    if meta.get("format") != FORMAT:
        raise InputError(f"{folder} is not a {FORMAT} bundle")
    proofs = {
        (p["from"], p["to"]): [base64.b64decode(h) for h in p["proof"]] for p in meta["consistency"]
    }

    def consistency(a: int, b: int) -> list[bytes]:
        if (a, b) not in proofs:
            raise VerificationError(f"the bundle has no consistency proof from {a} to {b}")
        return proofs[(a, b)]

    return verify_log(
        _entries(folder / "entries.jsonl"), size, notes, verifier, consistency, progress,
        check_stored=False,
    )  # fmt: skip
