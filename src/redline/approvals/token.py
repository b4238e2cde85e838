"""Action tokens: Redline's Ed25519 signature over one approved action.

    token = base64url(canonical JSON payload) "." base64url(signature)   (no padding)
    payload = {approval_id, action_hash, requester, deployment, approvers, not_after}

`action_hash` is the SHA-256 of the canonical JSON of the action (Subject.content_hash),
`not_after` a Unix time in seconds. The effector calls `verify_action_token` before it
acts, then spends the token once (Redline's POST /v1/approvals/{id}/redeem, or SpentTokens).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import ValidationError

from redline.canonical import canonical_json
from redline.classify.segments import parse_arguments
from redline.errors import VerificationError
from redline.subject import Subject

FIELDS = ("approval_id", "action_hash", "requester", "deployment", "approvers", "not_after")
MAX_TOKEN_CHARS = 8192


def _b64e(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _tool_call(call: Mapping[str, Any]) -> dict[str, Any]:
    """A tool call as Redline decided it: the SDK's shape ({"id", "type", "function": {"name",
    "arguments"}}) unwrapped, and arguments given as a JSON string (as the SDK gives them)
    parsed the way the gateway parsed them."""
    if "function" in call and "name" not in call and isinstance(call["function"], Mapping):
        call = call["function"]  # the SDK's wrapper: its "id" and "type" are not the action
    out = dict(call)
    if isinstance(out.get("arguments"), str):
        out["arguments"] = parse_arguments(out["arguments"])
    return out


def action_hash(action: Subject | Mapping[str, Any]) -> str:
    """The hash the token binds: of a Subject, a subject's JSON ({"tool_call": ...},
    {"text": ...}, {"messages": [...]}: a held chat request's is the approval's `content`)
    or a bare tool call ({"name", "arguments"}, or the SDK's tool-call object)."""
    if isinstance(action, Subject):
        return action.content_hash()
    data = dict(action)
    if ("name" in data or "function" in data) and "tool_call" not in data:
        data = {"tool_call": data}
    if isinstance(data.get("tool_call"), Mapping):
        data["tool_call"] = _tool_call(data["tool_call"])
    try:
        return Subject.model_validate(data).content_hash()
    except ValidationError as exc:
        raise VerificationError(
            f"the action is not a valid subject: {exc.errors()[0]['msg']}"
        ) from exc


def sign_action_token(payload: Mapping[str, Any], key: Ed25519PrivateKey) -> str:
    missing = [f for f in FIELDS if f not in payload]
    if missing:
        raise ValueError(f"token payload lacks {missing}")
    body = canonical_json({f: payload[f] for f in FIELDS})
    return f"{_b64e(body)}.{_b64e(key.sign(body))}"


def load_public_key(key: Ed25519PublicKey | bytes | str | Path) -> Ed25519PublicKey:
    """A public key from an object, 32 raw bytes, PEM text/bytes, or a PEM file's path."""
    if isinstance(key, Ed25519PublicKey):
        return key
    try:
        if isinstance(key, Path):
            key = key.read_bytes()
        if isinstance(key, str):
            key = key.encode("ascii")
        if len(key) == 32:
            return Ed25519PublicKey.from_public_bytes(key)
        loaded = serialization.load_pem_public_key(key)
    except (ValueError, TypeError, OSError, UnicodeEncodeError) as exc:
        raise VerificationError(f"not an Ed25519 public key: {exc}") from exc
    if not isinstance(loaded, Ed25519PublicKey):
        raise VerificationError("not an Ed25519 public key")
    return loaded


def decode_action_token(token: str) -> tuple[dict[str, Any], bytes, bytes]:
    """(payload, signed bytes, signature) of a well-formed token; no signature check."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
        raise VerificationError("malformed action token")
    body_b64, sig_b64 = token.split(".")
    try:
        body, sig = _b64d(body_b64), _b64d(sig_b64)
        payload = json.loads(body.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise VerificationError("malformed action token") from exc
    if not isinstance(payload, dict) or sorted(payload) != sorted(FIELDS) or len(sig) != 64:
        raise VerificationError("malformed action token")
    if canonical_json(payload) != body:
        raise VerificationError("malformed action token: payload is not canonical")
    if not isinstance(payload["not_after"], int) or not isinstance(payload["approvers"], list):
        raise VerificationError("malformed action token")
    return payload, body, sig


def signed_payload(token: str, public_key: Ed25519PublicKey | bytes | str | Path) -> dict[str, Any]:
    """The payload of a well-formed token signed by `public_key`; raises VerificationError."""
    payload, body, sig = decode_action_token(token)
    try:
        load_public_key(public_key).verify(sig, body)
    except InvalidSignature as exc:
        raise VerificationError(
            "action token signature is invalid (another key, or altered)"
        ) from exc
    return payload


def check_not_expired(payload: Mapping[str, Any], now: float | None = None) -> None:
    if (time.time() if now is None else now) > payload["not_after"]:
        raise VerificationError("action token has expired")


def verify_action_token(
    token: str,
    action: Subject | Mapping[str, Any],
    public_key: Ed25519PublicKey | bytes | str | Path,
    *,
    now: float | None = None,
    spent: SpentTokens | None = None,
) -> dict[str, Any]:
    """Check a token for this very action; its payload. Raises VerificationError when the
    token is malformed, signed by another key, for another action (any argument changed),
    past its not-after time, or (with `spent`) already used."""
    payload = signed_payload(token, public_key)
    if payload["action_hash"] != action_hash(action):
        raise VerificationError("action token is for a different action (arguments differ)")
    check_not_expired(payload, now)
    if spent is not None:
        spent.spend(str(payload["approval_id"]))
    return payload


class SpentTokens:
    """An effector-side spent list: each approval's token acts once. With a path, the list
    is a file of approval ids (one a line) that survives restarts."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self._lock = threading.Lock()
        self._spent: set[str] = set()
        if self.path is not None and self.path.exists():
            self._spent = set(self.path.read_text("utf-8").split())

    def spend(self, approval_id: str) -> None:
        with self._lock:
            if approval_id in self._spent:
                raise VerificationError(f"action token for {approval_id} was already used")
            self._spent.add(approval_id)
            if self.path is not None:
                with self.path.open("a", encoding="utf-8") as f:
                    f.write(approval_id + "\n")
                    f.flush()
                    os.fsync(f.fileno())


# -- the server's signing key ----------------------------------------------------------

SIGNING_KEY_FILE = "approval-signing.pem"
PUBLIC_KEY_FILE = "approval-signing.pub.pem"


def load_or_create_signing_key(keys_dir: Path) -> Ed25519PrivateKey:
    """The approval signing key in `keys_dir`, created (0600, directory 0700) on first use."""
    path = keys_dir / SIGNING_KEY_FILE
    if path.exists():
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(loaded, Ed25519PrivateKey):
            raise VerificationError(f"{path} is not an Ed25519 private key")
        return loaded
    keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    fd = os.open(keys_dir / PUBLIC_KEY_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:  # every key file 0600; share the public key as you wish
        f.write(public_pem(key.public_key()))
    return key


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
