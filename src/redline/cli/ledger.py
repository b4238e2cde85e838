"""`redline ledger`: verify, prove, checkpoint and export the tamper-evident ledger."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from redline.errors import RedlineError, VerificationError
from redline.ledger.checkpoint import Checkpointer, load_signer, load_verifier
from redline.ledger.note import Verifier
from redline.ledger.verify import Report

app = typer.Typer(help="Verify, prove and export the decision ledger.", no_args_is_help=True)
err = Console(stderr=True)

DbOpt = Annotated[str, typer.Option("--db", envvar="REDLINE_DB", help="Ledger database.")]
PubOpt = Annotated[
    Path | None,
    typer.Option("--key", envvar="REDLINE_LEDGER_PUB", help="The log's public (verifier) key."),
]
SignerOpt = Annotated[
    Path | None,
    typer.Option("--signing-key", envvar="REDLINE_LEDGER_KEY", help="The log's signing key."),
]


def _fail(exc: RedlineError, code: int = 2) -> typer.Exit:
    err.print(f"[red]error:[/] {exc}")
    return typer.Exit(code)


def _b64(h: bytes) -> str:
    return base64.b64encode(h).decode()


def _report(report: Report) -> None:
    for w in report.warnings:
        err.print(f"[yellow]warning:[/] {w}")
    latest = report.checkpoints[-1].size if report.checkpoints else "none"
    Console().print(
        f"[green]verified[/] {report.size} entries, root {report.root.hex()}, "
        f"{len(report.checkpoints)} checkpoints (latest size {latest})"
    )


@app.command()
def verify(
    db: DbOpt = "./redline.db",
    key: PubOpt = None,
    bundle: Annotated[
        Path | None, typer.Option(help="Verify an exported bundle instead of a database.")
    ] = None,
) -> None:
    """Recompute the whole tree; check every checkpoint's signature, root and consistency."""
    from redline.ledger.bundle import verify_bundle
    from redline.ledger.open import open_ledger
    from redline.ledger.verify import verify_store

    try:
        verifier: Verifier | None = load_verifier(key) if key else None
        if bundle is not None and verifier is None:
            raise VerificationError("an offline bundle is verified with --key PUB")
        store = None if bundle is not None else open_ledger(db)
    except RedlineError as exc:
        raise _fail(exc) from exc
    total = store.size() if store is not None else None
    columns = ("{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        with Progress(*columns, console=err, transient=True) as bar:
            task = bar.add_task("verifying", total=total)

            def tick(done: int) -> None:
                bar.update(task, completed=done)

            if bundle is not None and verifier is not None:
                report = verify_bundle(bundle, verifier, tick)
            elif store is not None:
                report = verify_store(store, verifier, tick)
    except VerificationError as exc:
        err.print(f"[red]FAILED:[/] {exc}")
        raise typer.Exit(1) from exc
    except RedlineError as exc:
        raise _fail(exc) from exc
    finally:
        if store is not None:
            store.close()
    _report(report)


@app.command()
def prove(
    index: Annotated[int, typer.Argument(help="Ledger index of the entry.")],
    db: DbOpt = "./redline.db",
    size: Annotated[
        int | None, typer.Option(help="Tree size (default: the latest checkpoint's).")
    ] = None,
) -> None:
    """Print the entry, its inclusion proof and the checkpoint it is proved against (JSON)."""
    from redline.ledger.open import open_ledger
    from redline.ledger.verify import read_checkpoints

    try:
        store = open_ledger(db)
    except RedlineError as exc:
        raise _fail(exc) from exc
    try:
        note = store.latest_checkpoint()
        cp = read_checkpoints([note], None)[0] if note else None
        if size is None:
            size = cp.size if cp is not None and cp.size > index else store.size()
        out = {
            "index": index,
            "size": size,
            "entry": json.loads(store.entry_bytes(index)),
            "leaf_hash": _b64(store.leaf_hash(index)),
            "root": _b64(store.root(size)),
            "proof": [_b64(h) for h in store.inclusion_proof(index, size)],
            "checkpoint": note if cp is not None and cp.size == size else None,
        }
    except RedlineError as exc:
        raise _fail(exc) from exc
    finally:
        store.close()
    print(json.dumps(out, indent=2, ensure_ascii=False))


@app.command()
def checkpoint(db: DbOpt = "./redline.db", signing_key: SignerOpt = None) -> None:
    """Sign a checkpoint of the ledger as it stands now, and print it."""
    from redline.ledger.open import open_ledger

    try:
        signer = load_signer(signing_key)
        if signer is None:
            raise VerificationError("no signing key: pass --signing-key or set REDLINE_LEDGER_KEY")
        store = open_ledger(db)
    except RedlineError as exc:
        raise _fail(exc) from exc
    try:
        print(Checkpointer(store, signer, 0).issue(), end="")
    except RedlineError as exc:
        raise _fail(exc) from exc
    finally:
        store.close()


@app.command()
def export(
    folder: Annotated[Path, typer.Argument(help="Folder to write the bundle into.")],
    db: DbOpt = "./redline.db",
    signing_key: SignerOpt = None,
    key: PubOpt = None,
) -> None:
    """Write an audit bundle (entries, checkpoints, proofs, public key) for offline checking.

    With a signing key, a fresh checkpoint is signed first so the bundle covers every entry."""
    from redline.ledger.bundle import export_bundle
    from redline.ledger.open import open_ledger

    try:
        signer = load_signer(signing_key)
        verifier = load_verifier(key) if key else signer.verifier() if signer else None
        store = open_ledger(db)
    except RedlineError as exc:
        raise _fail(exc) from exc
    try:
        if signer is not None:
            Checkpointer(store, signer, 0).issue()
        count = export_bundle(store, folder, verifier)
    except RedlineError as exc:
        raise _fail(exc) from exc
    finally:
        store.close()
    err.print(f"exported {count} entries to {folder}")
