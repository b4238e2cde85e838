"""`redline keys`: the ledger's signing key pair (and the content encryption key)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from redline.errors import RedlineError
from redline.ledger.keys import KEY_NAME, KeyFiles, create_keys

app = typer.Typer(help="Generate the ledger's keys.", no_args_is_help=True)
err = Console(stderr=True)


@app.command("init")
def init(
    folder: Annotated[Path, typer.Option("--dir", help="Where to write the keys.")] = Path(
        "var/keys"
    ),
    name: Annotated[str, typer.Option(help="Key name, and the checkpoints' origin.")] = KEY_NAME,
) -> None:
    """Generate the Ed25519 checkpoint-signing key pair and an AES content key."""
    files = KeyFiles.in_dir(folder)
    key_path, pub_path, content_path = files.signer, files.verifier, files.content
    try:
        signer = create_keys(folder, name)
    except (FileExistsError, RedlineError) as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    err.print(f"signing key  {key_path} (mode 0600: keep it secret)")
    err.print(f"content key  {content_path} (mode 0600)")
    err.print(f"public key   {pub_path}: give it to auditors")
    err.print(f"Serve with: REDLINE_LEDGER_KEY={key_path} REDLINE_CONTENT_KEY={content_path}")
    print(signer.verifier().text())
