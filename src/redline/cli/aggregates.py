"""`redline aggregates show`: a deployment's windows and counts, over HTTP (admin or
auditor). Subjects are shown as keyed hashes only; Redline never stores them otherwise."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from redline.cli.remote import call_api

app = typer.Typer(help="Distinct surveillance subjects per window.", no_args_is_help=True)
out = Console()


@app.command("show")
def show(
    deployment: Annotated[str, typer.Option("--deployment", help="The deployment.")],
    url: Annotated[str, typer.Option("--url", envvar="REDLINE_URL")] = "http://127.0.0.1:8080",
    key: Annotated[str, typer.Option("--key", envvar="REDLINE_API_KEY")] = "",
    hashes: Annotated[bool, typer.Option("--hashes", help="List every subject's hash.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the raw JSON.")] = False,
) -> None:
    """Counts per window for the deployment and each of its principals."""
    body = call_api("GET", url, key, "/v1/aggregates", params={"deployment": deployment})
    if as_json:
        print(json.dumps(body, indent=2))
        return
    windows = list(body["windows"])
    table = Table("scope", "principal", *[f"distinct {w}" for w in windows])
    for s in body["scopes"]:
        table.add_row(s["scope"], s["principal"] or "", *[str(s["counts"][w]) for w in windows])
    out.print(f"deployment {body['deployment']}")
    out.print(table)
    if hashes:
        for s in body["scopes"]:
            for subject in s["subjects"]:
                out.print(
                    f"{s['principal'] or '(deployment)'}  {subject['hash']}  {subject['last_seen']}"
                )
