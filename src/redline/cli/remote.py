"""One call to a Redline server for the CLI's HTTP commands: errors in the one error shape
are printed and end the command (exit 1; exit 2 when the server cannot be reached)."""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console

err = Console(stderr=True)


def call_api(
    method: str,
    url: str,
    key: str,
    path: str,
    body: dict[str, Any] | None = None,
    params: dict[str, str] | None = None,
) -> Any:
    import httpx

    try:
        r = httpx.request(
            method,
            url.rstrip("/") + path,
            json=body,
            params=params,
            timeout=30,
            headers={"authorization": f"Bearer {key}"},
        )
    except httpx.HTTPError as exc:
        err.print(f"[red]error:[/] cannot reach {url}: {exc}")
        raise typer.Exit(2) from exc
    if r.status_code >= 400:
        try:
            e = r.json()["error"]
            err.print(f"[red]{r.status_code} {e['code']}:[/] {e['message']}")
        except (ValueError, KeyError, TypeError):
            err.print(f"[red]error:[/] HTTP {r.status_code}")
        raise typer.Exit(1)
    return r.json()
