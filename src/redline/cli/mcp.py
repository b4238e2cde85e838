"""`redline mcp-stdio`: the MCP gateway for clients that start a process (desktop assistants,
agent frameworks): MCP on standard input and output, as the principal of one API key."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import anyio
import typer
from rich.console import Console

from redline.errors import RedlineError

err = Console(stderr=True, soft_wrap=True)


def mcp_stdio_cmd(
    key: Annotated[
        str,
        typer.Option(
            "--key",
            envvar="REDLINE_API_KEY",
            help="The API key the agent acts as.",
            show_default=False,
        ),
    ],
    config: Annotated[
        Path | None,
        typer.Option("--config", help="TOML settings with [mcp_servers.NAME] (as for serve)."),
    ] = None,
    policy: Annotated[
        str, typer.Option("--policy", "-p", help="Packs, without --config.")
    ] = "provider-redlines",
    db: Annotated[str, typer.Option("--db", envvar="REDLINE_DB", help="Ledger database.")] = (
        "./redline.db"
    ),
) -> None:
    """Serve MCP over stdio: every tool call is decided, recorded and, when allowed, forwarded
    to the configured tool servers. Standard output carries MCP only; logs go to stderr."""
    from redline.cli.main import _serve_settings
    from redline.gateway.mcp.server import serve_stdio
    from redline.gateway.services import build_services

    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    explicit = {"db"} if db != "./redline.db" else set()
    try:
        settings = _serve_settings(config, policy, {"db": db}, explicit)
        services = build_services(settings)
    except RedlineError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    try:
        principal = services.principals.authenticate(key)
        err.print(f"Redline MCP over stdio as {principal.id} (deployment {principal.deployment})")
        anyio.run(serve_stdio, services, principal)
    except RedlineError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    finally:
        services.close()
