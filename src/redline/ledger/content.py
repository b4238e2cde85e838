"""Request content, kept apart from the log: salt and content as JSON, optionally sealed with
AES-GCM under a key the deployer holds ($REDLINE_CONTENT_KEY: a file of 32 base64 bytes)."""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from redline.errors import InputError, VerificationError

CONTENT_KEY_ENV = "REDLINE_CONTENT_KEY"
_SEALED = b"rlc1"  # marks an encrypted row


def load_content_key(path: str | Path | None = None) -> bytes | None:
    where = path or os.environ.get(CONTENT_KEY_ENV)
    if not where:
        return None
    try:
        key = base64.b64decode(Path(where).read_text("utf-8").strip(), validate=True)
    except (OSError, binascii.Error, ValueError) as exc:
        raise InputError(f"cannot read the content key {where}") from exc
    if len(key) != 32:
        raise InputError(f"the content key {where} is not 32 bytes")
    return key


def new_content_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def seal(salt: str, content: Any, commitment: str, key: bytes | None) -> bytes:
    """The stored form; the commitment is bound as associated data so rows cannot be swapped."""
    plain = json.dumps({"salt": salt, "content": content}, ensure_ascii=False).encode()
    if key is None:
        return plain
    nonce = secrets.token_bytes(12)
    return _SEALED + nonce + AESGCM(key).encrypt(nonce, plain, commitment.encode())


def unseal(blob: bytes, commitment: str, key: bytes | None) -> tuple[str, Any]:
    """(salt, content) from a stored row."""
    if blob.startswith(_SEALED):
        if key is None:
            raise InputError("this content is encrypted: set REDLINE_CONTENT_KEY")
        try:
            blob = AESGCM(key).decrypt(blob[4:16], blob[16:], commitment.encode())
        except InvalidTag as exc:
            raise VerificationError("content does not decrypt under this key") from exc
    data = json.loads(blob)
    return str(data["salt"]), data["content"]


# -- content in the state tables (approvals, parked answers) ---------------------------
_SEALED_TEXT = "rlc1:"


class StoredContentError(VerificationError):
    """Stored content that does not decrypt: altered, or sealed under another key. The
    server fails closed on it (500), naming what could not be read."""

    code = "stored_content_invalid"
    status = 500


def seal_text(text: str, key: bytes | None, bound_to: str) -> str:
    """`text` as stored: AES-GCM under `key`, bound to its row (`bound_to`, e.g. the
    approval id) so ciphertexts cannot be swapped between rows; as is without a key."""
    if key is None:
        return text
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(key).encrypt(nonce, text.encode(), bound_to.encode())
    return _SEALED_TEXT + base64.b64encode(nonce + sealed).decode("ascii")


def unseal_text(stored: str, key: bytes | None, bound_to: str, what: str) -> str:
    """The text of a stored value; StoredContentError if it was altered or the key differs.
    A value stored before encryption (no marker) is read as is."""
    if not stored.startswith(_SEALED_TEXT):
        return stored
    if key is None:
        raise StoredContentError(f"{what} is encrypted and this server has no content key")
    try:
        raw = base64.b64decode(stored[len(_SEALED_TEXT) :], validate=True)
        return AESGCM(key).decrypt(raw[:12], raw[12:], bound_to.encode()).decode()
    except (InvalidTag, binascii.Error, ValueError) as exc:
        raise StoredContentError(
            f"{what} does not decrypt under this server's content key: it was altered, or "
            "sealed under another key; refusing to use it"
        ) from exc


def load_or_create_content_key(path: Path) -> bytes:
    """The content key at `path`, created on first start (the file 0600, its folder 0700)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another worker created it first
        else:
            with os.fdopen(fd, "w") as f:
                f.write(new_content_key() + "\n")
    key = load_content_key(path)
    assert key is not None
    return key
