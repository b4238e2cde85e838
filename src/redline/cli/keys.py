"""`redline keys`: the ledger's signing key pair (and the content encryption key)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from redline.errors import RedlineError
from redline.ledger.content import new_content_key
from redline.ledger.note import Signer

app = typer.Typer(help="Generate the ledger's keys.", no_args_is_help=True)
err = Console(stderr=True)


def write_secret(path: Path, text: str) -> None:
    """Create a file readable by its owner only; never replace an existing key."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text + "\n")


@app.command("init")
def init(
    folder: Annotated[Path, typer.Option("--dir", help="Where to write the keys.")] = Path(
        "var/keys"
    ),
    name: Annotated[str, typer.Option(help="Key name, and the checkpoints' origin.")] = (
        "redline.local/ledger"
    ),
) -> None:
    """Generate the Ed25519 checkpoint-signing key pair and an AES content key."""
    key_path, pub_path, content_path = (
        folder / "ledger.key", folder / "ledger.pub", folder / "content.key"
    )  # fmt: skip
    existing = [p for p in (key_path, pub_path, content_path) if p.exists()]
    if existing:
        err.print(f"[red]error:[/] {existing[0]} exists; not replacing a key")
        raise typer.Exit(2)
    try:
        signer = Signer.generate(name)
    except RedlineError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    folder.mkdir(parents=True, exist_ok=True)
    write_secret(key_path, signer.text())
    write_secret(content_path, new_content_key())
    pub_path.write_text(signer.verifier().text() + "\n")
    err.print(f"signing key  {key_path} (mode 0600: keep it secret)")
    err.print(f"content key  {content_path} (mode 0600)")
    err.print(f"public key   {pub_path}: give it to auditors")
    err.print(f"Serve with: REDLINE_LEDGER_KEY={key_path} REDLINE_CONTENT_KEY={content_path}")
    print(signer.verifier().text())
