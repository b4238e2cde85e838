"""The ledger's key files: the checkpoint signer (Ed25519) and the content key (AES-GCM)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from redline.ledger.content import new_content_key
from redline.ledger.note import Signer

KEY_NAME = "redline.local/ledger"


def default_keys_dir() -> Path:
    return Path(os.environ.get("REDLINE_KEYS_DIR", "./var/keys"))


@dataclass(frozen=True)
class KeyFiles:
    signer: Path
    verifier: Path
    content: Path

    @classmethod
    def in_dir(cls, folder: Path) -> KeyFiles:
        return cls(folder / "ledger.key", folder / "ledger.pub", folder / "content.key")


def write_secret(path: Path, text: str) -> None:
    """Create a file readable by its owner only; never replace an existing key."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text + "\n")


def create_keys(folder: Path, name: str = KEY_NAME, *, content: bool = True) -> Signer:
    """Generate the key pair (and a content key); refuses to replace any existing file."""
    files = KeyFiles.in_dir(folder)
    wanted = [files.signer, files.verifier] + ([files.content] if content else [])
    if existing := [p for p in wanted if p.exists()]:
        raise FileExistsError(f"{existing[0]} exists; not replacing a key")
    signer = Signer.generate(name)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_secret(files.signer, signer.text())
    if content:
        write_secret(files.content, new_content_key())
    write_secret(files.verifier, signer.verifier().text())  # every key file 0600
    return signer
