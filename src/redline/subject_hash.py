"""Keyed subject hashes: what the ledger, approvals and answers call `subject_hash`.

An unkeyed SHA-256 of the canonical request would let anyone who reads a ledger entry or a
403/409 body confirm a guessed request by hashing it. The subject hash is therefore
HMAC-SHA256 under a secret of the request's deployment, so only the server, which holds the
secret, can tell whether two requests are the same one (an approval's resume).

The secrets come from one random master secret in the keys folder (`subject-hash.key`,
mode 0600, created on first start), derived per deployment with HKDF-SHA256.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from redline.canonical import canonical_json
from redline.errors import InputError
from redline.subject import Subject

KEY_FILE = "subject-hash.key"
_KEY_BYTES = 32


@dataclass(frozen=True)
class SubjectHasher:
    """The keyed hash of one deployment."""

    key: bytes = field(repr=False)

    @classmethod
    def ephemeral(cls) -> SubjectHasher:
        """A hasher with a random key of its own (a decider that records nothing lasting)."""
        return cls(secrets.token_bytes(_KEY_BYTES))

    def hash(self, subject: Subject, bound: Mapping[str, Any] | None = None) -> str:
        """HMAC-SHA256 of the subject's canonical JSON; with `bound` (the rest of a
        forwarded request: model, parameters), of both, so an approval binds all of it."""
        content: Any = subject.content_json()
        if bound:
            content = {"request": dict(bound), "subject": content}
        return hmac.new(self.key, canonical_json(content), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class SubjectKeys:
    """The master secret; one derived key per deployment."""

    master: bytes = field(repr=False)

    def for_deployment(self, deployment: str) -> SubjectHasher:
        hkdf = HKDF(
            algorithm=hashes.SHA256(),
            length=_KEY_BYTES,
            salt=None,
            info=b"redline subject hash\x00" + deployment.encode("utf-8"),
        )
        return SubjectHasher(hkdf.derive(self.master))


def load_or_create_subject_keys(keys_dir: Path) -> SubjectKeys:
    """The master secret in `keys_dir`, created (0600, folder 0700) on first start.

    1. An existing file must hold exactly 32 bytes as hex; anything else stops the start.
    2. A missing file is created exclusively, so two starting workers cannot both write one.
    """
    path = keys_dir / KEY_FILE
    if not path.exists():
        keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another worker created it first: read theirs
        else:
            with os.fdopen(fd, "w", encoding="ascii") as f:
                f.write(secrets.token_hex(_KEY_BYTES) + "\n")
    try:
        master = bytes.fromhex(path.read_text("ascii").strip())
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read the subject-hash key {path}: {exc}") from exc
    if len(master) != _KEY_BYTES:
        raise InputError(
            f"the subject-hash key {path} holds {len(master)} bytes, expected {_KEY_BYTES}"
        )
    return SubjectKeys(master)
