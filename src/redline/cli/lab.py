"""The policy lab: `redline policies diff|test`, `redline simulate`, `redline replay`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from redline.errors import InputError, PolicyError, RedlineError
from redline.policy.pack import Pack, PackRegistry, parse_pack
from redline.policy.simulate import Item, request_item

err = Console(stderr=True, soft_wrap=True)

PolicyDirOpt = Annotated[
    Path | None,
    typer.Option("--policy-dir", envvar="REDLINE_POLICY_DIR", help="Directory of your own packs."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the report as JSON.")]


def fail(exc: RedlineError, code: int = 2) -> typer.Exit:
    err.print(f"[red]error:[/] {exc}")
    return typer.Exit(code)


def load_packs(spec: str, policy_dir: Path | None) -> list[Pack]:
    """Packs named in `spec` (comma-joined): names from the registry, or .cedar files."""
    registry = PackRegistry(policy_dir)
    names: list[str] = []
    packs: list[Pack] = []
    for item in (s.strip() for s in spec.split(",")):
        if item.endswith(".cedar"):
            path = Path(item)
            if not path.is_file():
                raise PolicyError(f"pack file {path} does not exist")
            packs.append(parse_pack(path.read_text("utf-8"), str(path)))
        elif item:
            names.append(item)
    if names:
        packs += registry.select(names)
    if not packs:
        raise PolicyError("no policy pack named; give at least one")
    return packs


def diff_cmd(
    a: Annotated[str, typer.Argument(help="Packs A, comma-joined (names or .cedar files).")],
    b: Annotated[str, typer.Argument(help="Packs B, comma-joined (names or .cedar files).")],
    policy_dir: PolicyDirOpt = None,
    as_json: JsonOpt = False,
    html: Annotated[
        Path | None, typer.Option("--html", help="Write the report as one HTML page here.")
    ] = None,
) -> None:
    """Every cell (category x attested facts) that A and B decide differently, and why."""
    from redline.cli.lab_html import diff_page
    from redline.cli.lab_view import diff_table
    from redline.policy.diff import diff, report_json

    try:
        report = diff(load_packs(a, policy_dir), load_packs(b, policy_dir))
    except RedlineError as exc:
        raise fail(exc) from exc
    if html is not None:
        html.write_text(diff_page(report), "utf-8")
        err.print(f"wrote {html}")
    if as_json:
        print(json.dumps(report_json(report), indent=2, ensure_ascii=False))
    elif html is None:
        diff_table(report, Console())


def test_cmd(
    pack: Annotated[str, typer.Argument(help="Packs to test, comma-joined (names or files).")],
    cases: Annotated[Path, typer.Option("--cases", help="Cases: TOML [[case]] or JSONL.")],
    policy_dir: PolicyDirOpt = None,
) -> None:
    """Run a pack's test cases; exit 1 if any expectation is wrong (for CI)."""
    from redline.policy.cases import load_cases, run_cases

    try:
        packs = load_packs(pack, policy_dir)
        results = run_cases(packs, load_cases(cases))
    except RedlineError as exc:
        raise fail(exc) from exc
    out = Console()
    failed = [r for r in results if not r.passed]
    for r in results:
        mark = "[green]PASS[/]" if r.passed else "[red]FAIL[/]"
        out.print(f"{mark} {r.numbered.label}" + ("" if r.passed else f": {r.explain()}"))
    summary = f"{len(results) - len(failed)} passed, {len(failed)} failed"
    out.print(f"[bold]{summary}[/] ({', '.join(p.name for p in packs)}, {cases})")
    if failed:
        raise typer.Exit(1)


def read_items(path: Path, invalid: list[str]) -> Iterator[Item]:
    """The requests of a JSONL file (as `redline check` reads them); bad lines are noted.
    The file is the operator's own, so its attestations are trusted."""
    from pydantic import ValidationError

    from redline.subject import DecideRequest
    from redline.trust import TRUST_ALL

    with path.open(encoding="utf-8") as stream:
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                yield request_item(number, DecideRequest.model_validate_json(line), TRUST_ALL)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"]) or "line"
                invalid.append(f"line {number}: {where}: {first['msg']}")


def simulate_cmd(
    policy: Annotated[str, typer.Option("--policy", help="Packs A (comma-joined).")],
    against: Annotated[str, typer.Option("--against", help="Packs B (comma-joined).")],
    jsonl: Annotated[Path, typer.Option("--jsonl", help="Requests, one JSON object a line.")],
    policy_dir: PolicyDirOpt = None,
    classifier: Annotated[
        str, typer.Option("--classifier", envvar="REDLINE_CLASSIFIER", help="rules, model, auto.")
    ] = "auto",
    chart: Annotated[
        Path | None, typer.Option("--chart", help="Write the decision shift as SVG here.")
    ] = None,
    show: Annotated[int, typer.Option(help="Changed requests to list.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Decide each request under A and under B (classified once) and show what changes.

    Nothing is recorded: no ledger entry, no approval. The file is the operator's own, so
    its attestations are trusted, as in `redline check`."""
    from redline.classify.load import load_classifier
    from redline.cli.lab_view import packs_label, shift_view
    from redline.policy.simulate import shift_json, simulate

    try:
        a, b = load_packs(policy, policy_dir), load_packs(against, policy_dir)
        model = load_classifier(classifier)
        if not jsonl.is_file():
            raise InputError(f"no such file: {jsonl}")
    except RedlineError as exc:
        raise fail(exc) from exc
    total = sum(1 for line in jsonl.open(encoding="utf-8") if line.strip())
    invalid: list[str] = []
    columns = (TextColumn("deciding"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err) as bar:
        task = bar.add_task("simulate", total=total)
        items = read_items(jsonl, invalid)
        report = simulate(model, a, b, items, advance=lambda n: bar.advance(task, n))
    report.invalid = invalid
    if chart is not None:
        from redline.cli.lab_chart import shift_svg

        chart.write_text(shift_svg(report, packs_label(a), packs_label(b)), "utf-8")
        err.print(f"wrote {chart}")
    if as_json:
        print(json.dumps(shift_json(report), indent=2, ensure_ascii=False))
    else:
        shift_view(report, Console(), "line", show)
    if invalid:
        raise typer.Exit(1)


def replay_cmd(
    policy: Annotated[str, typer.Option("--policy", help="The candidate packs (comma-joined).")],
    since: Annotated[str, typer.Option("--since", help="How far back: 7d, 24h, 90m.")] = "7d",
    against: Annotated[
        str | None, typer.Option("--against", help="Compare with these (default: in force).")
    ] = None,
    url: Annotated[str, typer.Option("--url", envvar="REDLINE_URL")] = "http://127.0.0.1:8080",
    key: Annotated[str, typer.Option("--key", envvar="REDLINE_API_KEY", help="An admin key.")] = "",
    chart: Annotated[
        Path | None, typer.Option("--chart", help="Write the decision shift as SVG here.")
    ] = None,
    show: Annotated[int, typer.Option(help="Changed decisions to list.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """(admin) Re-decide your deployment's recorded traffic under a candidate policy.

    The server reads the content back from its store, classifies each request once and
    decides it under the packs in force and under the candidate. Nothing is decided for
    real; the ledger gains one `replay` entry naming you, the window and the result's hash."""
    from redline.cli.lab_view import packs_label, shift_view
    from redline.cli.remote import call_api
    from redline.policy.simulate import shift_from_json

    body: dict[str, object] = {"since": since, "policy": policy.split(",")}
    if against:
        body["against"] = against.split(",")
    with err.status("replaying on the server"):
        result = call_api("POST", url, key, "/v1/replay", body)
    report = shift_from_json(result)
    if chart is not None:
        from redline.cli.lab_chart import shift_svg

        chart.write_text(shift_svg(report, packs_label(report.a), packs_label(report.b)), "utf-8")
        err.print(f"wrote {chart}")
    if as_json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
        return
    shift_view(report, Console(), "entry", show)
    window = result["window"]
    Console().print(
        f"replayed {window['replayed']:,} decisions of {window['deployment']} since {since} "
        f"(entries {window['from']}..{window['to'] - 1}); recorded as ledger entry "
        f"{result['ledger_index']}, result sha256 {result['result_sha256']}"
    )
