"""`redline token verify TOKEN --action FILE --key PUB`: the effector's offline check."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from redline.errors import RedlineError

app = typer.Typer(help="Action tokens issued on approval.", no_args_is_help=True)
err = Console(stderr=True)


@app.command("verify")
def verify(
    token: Annotated[str, typer.Argument(help="The action token ('-' reads stdin).")],
    action: Annotated[
        Path,
        typer.Option(
            "--action",
            help=(
                "JSON file: the action about to run. A tool call: {name, arguments}, its "
                "arguments an object or the JSON string the SDK gives, or the SDK's whole "
                "tool-call object. A held chat request: the approval's content, "
                '{"messages": [...]} (`redline approvals show ID --json | jq .content`).'
            ),
        ),
    ],
    key: Annotated[Path, typer.Option("--key", help="Redline's Ed25519 public key (PEM).")],
    spent: Annotated[
        Path | None,
        typer.Option("--spent", help="Spent-list file: refuse reuse and record this use."),
    ] = None,
) -> None:
    """Exit 0 and print the payload if TOKEN authorises exactly this action now; else exit 1."""
    import sys

    from redline.approvals.token import SpentTokens, verify_action_token

    if token == "-":  # noqa: S105 (stdin, not a password)
        token = sys.stdin.read().strip()
    try:
        data = json.loads(action.read_text("utf-8"))
        if not isinstance(data, dict):
            raise ValueError("the action must be a JSON object")
        payload = verify_action_token(
            token, data, key.read_bytes(), spent=SpentTokens(spent) if spent else None
        )
    except (OSError, ValueError) as exc:
        err.print(f"[red]invalid:[/] {exc}")
        raise typer.Exit(1) from exc
    except RedlineError as exc:
        err.print(f"[red]invalid:[/] {exc}")
        raise typer.Exit(1) from exc
    err.print("[green]valid[/]")
    print(json.dumps(payload, indent=2))
