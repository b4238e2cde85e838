"""`redline check`: decide on one text or a JSONL file of requests, offline."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from redline.decider import Decider
from redline.decision import Decision
from redline.gateway.errors import error_body
from redline.subject import DecideRequest

BATCH = 256
_OUTPUT_FIELDS = {
    "id",
    "decision",
    "categories",
    "decided_by",
    "release",
    "reason",
    "ledger_index",
    "ignored_attestations",
    "failure",
}


def _parse_line(line: str, number: int) -> DecideRequest | dict[str, Any]:
    """A request, or an error object that takes the line's place in the output."""
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as exc:
        return {"line": number, **error_body(400, "invalid_json", f"line {number}: {exc.msg}")}
    try:
        return DecideRequest.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "line"
        rid = raw.get("id") if isinstance(raw, dict) else None
        return {
            "id": rid,
            "line": number,
            **error_body(400, "invalid_request", f"line {number}: {where}: {first['msg']}"),
        }


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    stream = sys.stdin if str(path) == "-" else path.open(encoding="utf-8", errors="strict")
    with stream:
        for number, line in enumerate(stream, start=1):
            if line.strip():
                yield number, line


def run_jsonl(decider: Decider, path: Path, out: Any, err_console: Console) -> int:
    """Decide every line in input order, in batches; return how many lines were invalid."""
    total = None if str(path) == "-" else sum(1 for _ in _lines(path))
    invalid = 0
    columns = (TextColumn("deciding"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err_console, transient=False) as progress:
        task = progress.add_task("check", total=total)
        batch: list[DecideRequest | dict[str, Any]] = []

        def flush() -> None:
            requests = [b for b in batch if isinstance(b, DecideRequest)]
            decided = iter(decider.decide_batch(requests))
            for item in batch:
                row = _output(next(decided)) if isinstance(item, DecideRequest) else item
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
            progress.advance(task, len(batch))
            batch.clear()

        for number, line in _lines(path):
            item = _parse_line(line, number)
            invalid += not isinstance(item, DecideRequest)
            batch.append(item)
            if len(batch) >= BATCH:
                flush()
        flush()
    out.flush()
    return invalid


def _output(decision: Decision) -> dict[str, Any]:
    return decision.model_dump(mode="json", include=_OUTPUT_FIELDS)


def explain(decision: Decision, console: Console) -> None:
    """The readable form: categories, decision, deciding clauses, release, evidence."""
    style = {"allow": "green", "hold": "yellow", "deny": "red"}[decision.decision]
    console.print(f"[bold {style}]{decision.decision.upper()}[/]  {decision.reason}")
    shown = sorted(decision.categories.items(), key=lambda kv: -kv[1])
    cats = ", ".join(f"{c} {s:.2f}" for c, s in shown if s >= 0.05) or "(none)"
    console.print(f"[bold]categories[/]  {cats}")
    console.print(
        f"[bold]policies[/]    {', '.join(f'{k}@{v}' for k, v in decision.policies.items())}"
    )
    for d in decision.decided_by:
        console.print(f"  [{style}]{d.effect}[/] {d.policy} / {d.rule} ({d.category})")
        console.print(f"        {d.reason}")
    if decision.release:
        console.print(f"[bold]release[/]     {decision.release.how}")
    for a in decision.ignored_attestations:
        console.print(f"[bold]ignored[/]     attestation {a!r}: not from a trusted principal")
    for ev in decision.evidence[:8]:
        console.print(
            f"[dim]evidence    {ev.category} {ev.score:.2f} {ev.source} {ev.where} {ev.detail!r}[/]"
        )
    if decision.ledger_index is not None:
        console.print(f"[dim]ledger      entry {decision.ledger_index}[/]")
