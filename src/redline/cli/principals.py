"""`redline principals add|list|rotate|revoke`: identities and API keys (admin, local)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from redline.errors import RedlineError

app = typer.Typer(help="Principals and their API keys.", no_args_is_help=True)
err = Console(stderr=True)

DbOpt = Annotated[str, typer.Option("--db", envvar="REDLINE_DB", help="State database.")]


def _store(db: str):  # type: ignore[no-untyped-def]
    from redline.auth.store import PrincipalStore

    return PrincipalStore(db)


def _fail(exc: RedlineError) -> typer.Exit:
    err.print(f"[red]error:[/] {exc}")
    return typer.Exit(2)


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Principal id (unique).")],
    role: Annotated[
        list[str],
        typer.Option(
            "--role", "-r", help="requester|approver|commander|auditor|admin (repeatable)."
        ),
    ],
    deployment: Annotated[str, typer.Option("--deployment", "-d", help="The deployment (tenant).")],
    db: DbOpt = "./redline.db",
) -> None:
    """Create a principal and print its API key (shown once; only a salted hash is kept)."""
    store = _store(db)
    try:
        principal, key = store.add(name, role, deployment)
    except RedlineError as exc:
        raise _fail(exc) from exc
    finally:
        store.close()
    err.print(
        f"created {principal.id} ({', '.join(sorted(principal.roles))}) in {deployment}; "
        "the key is shown once:"
    )
    print(key)


@app.command("list")
def list_(
    deployment: Annotated[str | None, typer.Option("--deployment", "-d")] = None,
    db: DbOpt = "./redline.db",
) -> None:
    """Principals with their roles and key ids (never a secret)."""
    store = _store(db)
    try:
        rows = store.listing(deployment)
    finally:
        store.close()
    table = Table("principal", "deployment", "roles", "key ids", "state")
    for r in rows:
        table.add_row(
            r.id,
            r.deployment,
            ",".join(r.roles),
            " ".join(r.key_ids),
            "revoked" if r.revoked else "active",
        )
    Console().print(table)


@app.command("rotate")
def rotate(name: Annotated[str, typer.Argument()], db: DbOpt = "./redline.db") -> None:
    """Issue a new key and revoke every older key of NAME at once."""
    store = _store(db)
    try:
        key = store.rotate(name)
    except RedlineError as exc:
        raise _fail(exc) from exc
    finally:
        store.close()
    err.print(f"new key for {name} (older keys are revoked); shown once:")
    print(key)


@app.command("revoke")
def revoke(name: Annotated[str, typer.Argument()], db: DbOpt = "./redline.db") -> None:
    """Revoke NAME and all its keys: the next request with any of them fails."""
    store = _store(db)
    try:
        store.revoke(name)
    except RedlineError as exc:
        raise _fail(exc) from exc
    finally:
        store.close()
    err.print(f"revoked {name}")
