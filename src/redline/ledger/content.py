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
