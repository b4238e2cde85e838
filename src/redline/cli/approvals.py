"""`redline approvals list|show|approve|reject|stats`: the approver's side, over HTTP."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Column, Table

from redline.cli.remote import call_api

app = typer.Typer(help="Review held requests (talks to a Redline server).", no_args_is_help=True)
out = Console()

UrlOpt = Annotated[str, typer.Option("--url", envvar="REDLINE_URL", help="Redline server.")]
KeyOpt = Annotated[str, typer.Option("--key", envvar="REDLINE_API_KEY", help="Your API key.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the raw JSON.")]


@app.command("list")
def list_(
    url: UrlOpt = "http://127.0.0.1:8080",
    key: KeyOpt = "",
    state: Annotated[str, typer.Option(help="pending|approved|rejected|expired|all")] = "pending",
    as_json: JsonOpt = False,
) -> None:
    """Approvals you may see (pending by default)."""
    items = call_api("GET", url, key, f"/v1/approvals?state={state}")
    if as_json:
        print(json.dumps(items, indent=2))
        return
    # An id is what the next command needs: never cut, whatever the terminal's width; the
    # other columns fold instead.
    widest = max((len(a["id"]) for a in items), default=2)
    table = Table(
        Column("id", no_wrap=True, min_width=widest),
        *(
            Column(name, overflow="fold")
            for name in ("state", "requester", "role", "votes", "categories", "deciding rules")
        ),
    )
    for a in items:
        cats = ", ".join(f"{k} {v:.2f}" for k, v in a["categories"].items())
        rules = ", ".join(d["rule"] for d in a["decided_by"])
        table.add_row(
            a["id"],
            a["state"],
            a["requester"],
            ",".join(a["roles_required"]),
            f"{a['approvals_so_far']}/{a['approvers_needed']}",
            cats,
            rules,
        )
    out.print(table)


@app.command("show")
def show(
    approval_id: str,
    url: UrlOpt = "http://127.0.0.1:8080",
    key: KeyOpt = "",
    as_json: JsonOpt = False,
) -> None:
    """One approval: the request, its categories, evidence and deciding rules."""
    a = call_api("GET", url, key, f"/v1/approvals/{approval_id}")
    if as_json:
        print(json.dumps(a, indent=2))
        return
    out.print(
        f"[bold]{a['id']}[/]  {a['state']}  requested by {a['requester']} "
        f"in {a['deployment']}; needs {a['approvers_needed']} x {','.join(a['roles_required'])}"
    )
    out.print(f"reason: {a['reason']}")
    for e in a["evidence"]:
        out.print(f"  evidence {e['category']} {e['score']}: {e.get('detail', '')}")
    out.print("request:")
    out.print_json(json.dumps(a["content"]))
    if a.get("bound"):
        out.print("forwarded with (bound too):")
        out.print_json(json.dumps(a["bound"]))
    for v in a["votes"]:
        out.print(f"  {v['vote']} by {v['approver']} {v.get('comment', '')}")


@app.command("approve")
def approve(
    approval_id: str,
    url: UrlOpt = "http://127.0.0.1:8080",
    key: KeyOpt = "",
    comment: Annotated[str, typer.Option(help="Optional note.")] = "",
) -> None:
    """Approve (needs the required role; not your own request)."""
    a = call_api("POST", url, key, f"/v1/approvals/{approval_id}/approve", {"comment": comment})
    out.print(f"{a['id']}: {a['state']} ({a['approvals_so_far']}/{a['approvers_needed']})")


@app.command("reject")
def reject(
    approval_id: str,
    reason: Annotated[str, typer.Option("--reason", help="Why (required).")],
    url: UrlOpt = "http://127.0.0.1:8080",
    key: KeyOpt = "",
) -> None:
    """Reject with a reason."""
    a = call_api("POST", url, key, f"/v1/approvals/{approval_id}/reject", {"reason": reason})
    out.print(f"{a['id']}: {a['state']}")


@app.command("stats")
def stats(
    url: UrlOpt = "http://127.0.0.1:8080", key: KeyOpt = "", as_json: JsonOpt = False
) -> None:
    """Time from hold to decision, approval rate per approver, rubber-stamp flags."""
    s = call_api("GET", url, key, "/v1/approvals/stats")
    if as_json:
        print(json.dumps(s, indent=2))
        return
    out.print(
        f"approvals: {s['total']} {s['by_state']}; time to decision: median "
        f"{s['median_time_to_decision_s']} s, p90 {s['p90_time_to_decision_s']} s"
    )
    table = Table(
        "approver",
        "approved",
        "rejected",
        "rate",
        "median review s",
        f"faster than {s['min_review_s']} s",
    )
    for a in s["approvers"]:
        table.add_row(
            a["approver"],
            str(a["approved"]),
            str(a["rejected"]),
            f"{a['approval_rate']:.0%}",
            str(a["median_review_s"]),
            str(a["fast_approvals"]) + (" [red]rubber-stamp?[/]" if a["fast_approvals"] else ""),
        )
    out.print(table)
