"""The per-deployment secret that keys the subject hashes.

A subject is stored as HMAC-SHA256(secret, "kind:value"), never as itself. The secret lives
in a file (0600, directory 0700) beside the approval signing key, not in the database, so
a copy of the database alone cannot be matched against a list of names. Every worker of a
deployment must share the keys directory, as they share the signing key.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

from redline.errors import VerificationError

SECRET_BYTES = 32
_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


def secret_path(keys_dir: Path, deployment: str) -> Path:
    """`aggregate-<deployment>.key`; a name unsafe in a file name is hashed."""
    name = (
        deployment
        if _SAFE.match(deployment)
        else hashlib.sha256(deployment.encode()).hexdigest()[:32]
    )
    return keys_dir / f"aggregate-{name}.key"


def _read(path: Path) -> bytes:
    raw = bytes.fromhex(path.read_text("ascii").strip())
    if len(raw) != SECRET_BYTES:
        raise VerificationError(
            f"{path} holds {len(raw)} bytes; an aggregate secret is {SECRET_BYTES} bytes"
        )
    return raw


def load_or_create_secret(keys_dir: Path, deployment: str) -> bytes:
    """The deployment's secret, created on first use. Two workers starting together both
    end up with the one file that won the exclusive create."""
    path = secret_path(keys_dir, deployment)
    if path.exists():
        return _read(path)
    keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read(path)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(secrets.token_bytes(SECRET_BYTES).hex() + "\n")
        f.flush()
        os.fsync(f.fileno())
    return _read(path)


class SubjectHasher:
    """Keyed hashes of subjects for one deployment."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def digest(self, key: str) -> str:
        return hmac.new(self._secret, key.encode("utf-8"), hashlib.sha256).hexdigest()
