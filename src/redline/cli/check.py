"""`redline check`: decide on one text or a JSONL file of requests, offline."""

from __future__ import annotations

import json
import sys
import tempfile
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
from redline.subject_hash import SubjectHasher, load_or_create_subject_keys

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


class LocalDecider(Decider):
    """The decider of `redline check`; without --record its ledger is a temporary one,
    removed on close, and its answers name no ledger entry."""

    recording: bool = True
    scratch: tempfile.TemporaryDirectory[str] | None = None

    def decide_batch(self, *args: Any, **kwargs: Any) -> list[Decision]:
        decisions = super().decide_batch(*args, **kwargs)
        if not self.recording:
            for decision in decisions:
                decision.ledger_index = None
        return decisions

    def close(self) -> None:
        self.store.close()
        if self.scratch is not None:
            self.scratch.cleanup()


def local_decider(
    policy: str, policy_dir: Path | None, classifier: str, record_db: str | None
) -> LocalDecider:
    """The local operator runs this tool on their own data, so attestations are trusted.
    With `record_db`, decisions are appended to that ledger, hashed under the keys folder's
    subject-hash key (the default deployment's); without, nothing lasting is written."""
    from redline.classify.load import load_classifier
    from redline.gateway.services import open_store
    from redline.policy.pack import PackRegistry
    from redline.settings import Settings
    from redline.trust import TRUST_ALL

    packs = PackRegistry(policy_dir).select(policy)
    model = load_classifier(classifier)
    if record_db is not None:
        settings = Settings()
        keys = load_or_create_subject_keys(settings.approval_keys_dir)
        hasher = keys.for_deployment(settings.default_deployment)
        return LocalDecider(model, packs, open_store(record_db), TRUST_ALL, hasher=hasher)
    scratch = tempfile.TemporaryDirectory(prefix="redline-check-")
    store = open_store(str(Path(scratch.name) / "unrecorded.db"))
    decider = LocalDecider(model, packs, store, TRUST_ALL, hasher=SubjectHasher.ephemeral())
    decider.recording, decider.scratch = False, scratch
    return decider


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
