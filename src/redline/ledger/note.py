"""C2SP signed notes (c2sp.org/signed-note) with Ed25519, and their key encodings.

Keys use the Go sumdb/note text forms, so other tools read them:
    verifier  NAME+KEYID+base64(0x01 || 32-byte public key)
    signer    PRIVATE+KEY+NAME+KEYID+base64(0x01 || 32-byte seed)
where KEYID is 8 hex digits: SHA-256(NAME || 0x0A || 0x01 || public key)[:4].
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from redline.errors import InputError, VerificationError

ED25519 = 0x01
DASH = "\u2014"
MAX_SIGNATURES = 16


def key_id(name: str, public: bytes) -> int:
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([ED25519]) + public).digest()
    return int.from_bytes(digest[:4], "big")


def check_name(name: str) -> None:
    if not name or "+" in name or any(c.isspace() for c in name):
        raise InputError(f"invalid key name {name!r}: non-empty, no spaces, no '+'")


def _raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InputError(f"{what} is not valid base64") from exc


@dataclass(frozen=True)
class Verifier:
    name: str
    key_id: int
    public: Ed25519PublicKey

    @classmethod
    def parse(cls, text: str) -> Verifier:
        parts = text.strip().split("+", 2)
        if len(parts) != 3 or len(parts[1]) != 8:
            raise InputError("a verifier key reads NAME+KEYID+BASE64KEY")
        name, hex_id, key = parts
        check_name(name)
        raw = _b64(key, "the verifier key")
        if len(raw) != 33 or raw[0] != ED25519:
            raise InputError("the verifier key is not an Ed25519 key")
        if int(hex_id, 16) != key_id(name, raw[1:]):
            raise InputError(f"the verifier key's id {hex_id} does not match its key")
        return cls(name, key_id(name, raw[1:]), Ed25519PublicKey.from_public_bytes(raw[1:]))

    def text(self) -> str:
        raw = bytes([ED25519]) + _raw(self.public)
        return f"{self.name}+{self.key_id:08x}+{base64.b64encode(raw).decode()}"


@dataclass(frozen=True)
class Signer:
    name: str
    key_id: int
    private: Ed25519PrivateKey

    def __repr__(self) -> str:  # never show the key, even in a traceback
        return f"Signer({self.name!r}, {self.key_id:08x})"

    @classmethod
    def generate(cls, name: str) -> Signer:
        check_name(name)
        private = Ed25519PrivateKey.generate()
        return cls(name, key_id(name, _raw(private.public_key())), private)

    @classmethod
    def parse(cls, text: str) -> Signer:
        parts = text.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise InputError("a signer key reads PRIVATE+KEY+NAME+KEYID+BASE64KEY")
        name, hex_id, key = parts[2:]
        check_name(name)
        raw = _b64(key, "the signer key")
        if len(raw) != 33 or raw[0] != ED25519:
            raise InputError("the signer key is not an Ed25519 key")
        private = Ed25519PrivateKey.from_private_bytes(raw[1:])
        kid = key_id(name, _raw(private.public_key()))
        if len(hex_id) != 8 or int(hex_id, 16) != kid:
            raise InputError("the signer key's id does not match its key")
        return cls(name, kid, private)

    def text(self) -> str:
        from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

        seed = self.private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        raw = base64.b64encode(bytes([ED25519]) + seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.key_id:08x}+{raw}"

    def verifier(self) -> Verifier:
        return Verifier(self.name, self.key_id, self.private.public_key())


def _check_text(text: str) -> None:
    if not text.endswith("\n") or "\n\n" in text:
        raise VerificationError("note text must end in a newline and hold no blank line")
    if any(ord(c) < 0x20 and c != "\n" for c in text):
        raise VerificationError("note text holds a control character")


def sign(text: str, signer: Signer) -> str:
    """The signed note: text, a blank line, one signature line."""
    _check_text(text)
    sig = signer.key_id.to_bytes(4, "big") + signer.private.sign(text.encode())
    return f"{text}\n{DASH} {signer.name} {base64.b64encode(sig).decode()}\n"


def open_note(note: str, verifier: Verifier) -> str:
    """The note's text once a signature by `verifier` checks; VerificationError otherwise."""
    text, sep, sigs = note.rpartition("\n\n")
    if not sep or not sigs.endswith("\n"):
        raise VerificationError("malformed note: no signature block")
    text += "\n"
    _check_text(text)
    lines = sigs[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise VerificationError(f"note has {len(lines)} signatures, more than {MAX_SIGNATURES}")
    found = []
    for line in lines:
        prefix, _, rest = line.partition(" ")
        name, _, b64 = rest.partition(" ")
        if prefix != DASH or not name or not b64:
            raise VerificationError(f"malformed signature line {line!r}")
        try:
            sig = base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise VerificationError(f"signature by {name} is not valid base64") from exc
        if len(sig) < 4:
            raise VerificationError(f"signature by {name} is too short")
        if name == verifier.name and int.from_bytes(sig[:4], "big") == verifier.key_id:
            found.append(sig[4:])
        else:
            found.append(b"")  # a key we do not know: ignored, as the spec says
    known = [s for s in found if s]
    if not known:
        names = ", ".join(ln.split(" ")[1] if " " in ln else "?" for ln in lines)
        raise VerificationError(
            f"no signature by key {verifier.name}+{verifier.key_id:08x}; signed by: {names}"
        )
    for sig in known:
        try:
            verifier.public.verify(sig, text.encode())
        except InvalidSignature as exc:
            raise VerificationError(
                f"signature by {verifier.name}+{verifier.key_id:08x} does not verify"
            ) from exc
    return text
