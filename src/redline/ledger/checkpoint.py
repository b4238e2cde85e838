"""Signed checkpoints (c2sp.org/tlog-checkpoint): origin, tree size and root, signed as a note.

The origin is the signing key's name. A Checkpointer signs the durable tree head at an
interval in a background thread, and on demand.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from redline.errors import InputError, VerificationError
from redline.ledger.note import Signer, Verifier, open_note, sign

log = logging.getLogger("redline.ledger")

KEY_ENV = "REDLINE_LEDGER_KEY"  # path of the signer key file
PUB_ENV = "REDLINE_LEDGER_PUB"  # path of the verifier key file
INTERVAL_ENV = "REDLINE_CHECKPOINT_INTERVAL"  # seconds between checkpoints


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def body(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "" or not all(lines[:-1]):
            raise VerificationError("checkpoint body needs origin, size and root lines")
        origin, size, root = lines[:3]
        if not size.isdigit() or (size != "0" and size.startswith("0")):
            raise VerificationError(f"checkpoint size {size!r} is not a decimal number")
        try:
            raw = base64.b64decode(root, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise VerificationError("checkpoint root is not base64") from exc
        if len(raw) != 32:
            raise VerificationError(f"checkpoint root is {len(raw)} bytes, expected 32")
        return cls(origin, int(size), raw)


def sign_checkpoint(checkpoint: Checkpoint, signer: Signer) -> str:
    if checkpoint.origin != signer.name:
        raise InputError(f"checkpoint origin {checkpoint.origin!r} is not the key's name")
    return sign(checkpoint.body(), signer)


def open_checkpoint(note: str, verifier: Verifier) -> Checkpoint:
    """The checkpoint in `note`, once its signature by `verifier` checks."""
    checkpoint = Checkpoint.parse(open_note(note, verifier))
    if checkpoint.origin != verifier.name:
        raise VerificationError(
            f"checkpoint origin {checkpoint.origin!r} is not the key's name {verifier.name!r}"
        )
    return checkpoint


def load_signer(path: str | Path | None = None) -> Signer | None:
    """The signer key from `path`, $REDLINE_LEDGER_KEY, or the keys folder's ledger.key;
    None when there is none."""
    where = path or os.environ.get(KEY_ENV)
    if not where:
        from redline.ledger.keys import KeyFiles, default_keys_dir

        where = KeyFiles.in_dir(default_keys_dir()).signer
        if not where.exists():
            return None
    try:
        return Signer.parse(Path(where).read_text("utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read the ledger signing key {where}: {exc.strerror}") from exc


def load_verifier(path: str | Path) -> Verifier:
    try:
        return Verifier.parse(Path(path).read_text("utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read the verifier key {path}: {exc.strerror}") from exc


class CheckpointStore(Protocol):
    def tree_head(self) -> tuple[int, bytes]: ...

    def add_checkpoint(self, size: int, root: bytes, note: str) -> None: ...

    def latest_checkpoint(self) -> str | None: ...


class Checkpointer:
    """Signs the store's durable tree head, at `interval` seconds and when asked."""

    def __init__(self, store: CheckpointStore, signer: Signer, interval: float = 60.0) -> None:
        self.store = store
        self.signer = signer
        self.interval = interval
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def issue(self) -> str:
        """A checkpoint for the current size: the latest stored one if the log has not grown."""
        with self._lock:
            size, root = self.store.tree_head()
            latest = self.store.latest_checkpoint()
            if latest is not None:
                current = Checkpoint.parse(latest.split("\n\n", 1)[0] + "\n")
                if current.size == size:
                    return latest
            note = sign_checkpoint(Checkpoint(self.signer.name, size, root), self.signer)
            self.store.add_checkpoint(size, root, note)
            return note

    def start(self) -> None:
        if self._thread is None and self.interval > 0:
            self._thread = threading.Thread(
                target=self._run, name="ledger-checkpoints", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.issue()
            except Exception as exc:  # a missed checkpoint is retried at the next tick
                log.error("checkpoint failed: %s", exc)

    def stop(self) -> None:
        """Stop the background thread and sign the final tree head, so the last entries
        before a shutdown are under a signed checkpoint, not only those of the last tick."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        try:
            self.issue()
        except Exception as exc:  # shutting down: say so, the entries stay verifiable
            log.error("final checkpoint at shutdown failed: %s", exc)


def checkpointer_from_env(store: CheckpointStore) -> Checkpointer | None:
    signer = load_signer()
    if signer is None:
        return None
    interval = float(os.environ.get(INTERVAL_ENV, "60"))
    return Checkpointer(store, signer, interval)
