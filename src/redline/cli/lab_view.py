"""Readable output of the policy lab: Rich tables for diff, test, simulate and replay."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from redline.policy.diff import Clause, Difference, DiffReport, Side
from redline.policy.pack import Pack
from redline.policy.simulate import EFFECTS, PackRef, ShiftReport
from redline.policy.space import ANY
from redline.taxonomy import CATEGORIES

STYLE = {"allow": "green", "hold": "yellow", "deny": "red"}


def packs_label(packs: Sequence[Pack | PackRef]) -> str:
    return " + ".join(f"{p.name} {p.version}" for p in packs)


def shown(value: str) -> str:
    return "(not attested)" if value == "" else value


def when(report: DiffReport, d: Difference) -> str:
    """The conditions of a merged difference; dimensions that do not matter are left out."""
    parts = [f"{k}={shown(v)}" for k, v in report.conditions(d).items() if v != ANY]
    return "\n".join(parts) or "always"


def effect_text(s: Side) -> str:
    lines = [f"[bold {STYLE[s.effect]}]{s.effect}[/]", *(c.rule for c in s.clauses)]
    if s.release:
        lines.append(f"[dim]released by {s.release}[/]")
    return "\n".join(lines)


def clauses_once(sides: Sequence[Side]) -> list[Clause]:
    """Every deciding rule, once, in order of appearance."""
    return list(dict.fromkeys(c for s in sides for c in s.clauses))


def print_clauses(clauses: Sequence[Clause], console: Console) -> None:
    console.print("[bold]The clauses[/]")
    for c in clauses:
        console.print(f"  [bold]{c.rule}[/] ({c.pack}): “{c.reason}”")


def diff_table(report: DiffReport, console: Console) -> None:
    a, b = packs_label(report.a), packs_label(report.b)
    console.print(f"[bold]A[/] {a}\n[bold]B[/] {b}")
    sizes = " x ".join(f"{len(d.values)} {d.name}" for d in report.dimensions)
    console.print(
        f"{report.examined} cells examined ({len(CATEGORIES)} categories x {sizes}); "
        f"{report.differing} differ, merged into {len(report.differences)} rows "
        f"(a condition left out means any value)."
    )
    if not report.differences:
        console.print("[green]A and B decide every cell alike.[/]")
        return
    widest = max(len(c.rule) for d in report.differences for c in (*d.a.clauses, *d.b.clauses))
    table = Table(show_lines=True)
    table.add_column("category", overflow="fold")
    table.add_column("when", overflow="fold")
    table.add_column("A", overflow="fold", min_width=widest)
    table.add_column("B", overflow="fold", min_width=widest)
    table.add_column("cells", justify="right")
    for d in report.differences:
        table.add_row(d.category, when(report, d), effect_text(d.a), effect_text(d.b), str(d.cells))
    console.print(table)
    print_clauses(clauses_once([s for d in report.differences for s in (d.a, d.b)]), console)


def _counts(report: ShiftReport) -> Table:
    table = Table("effect", "A", "B", "change", title="Decisions")
    for effect in EFFECTS:
        a, b = report.count("a", effect), report.count("b", effect)
        table.add_row(f"[{STYLE[effect]}]{effect}[/]", f"{a:,}", f"{b:,}", f"{b - a:+,}")
    return table


def _matrix(report: ShiftReport) -> Table:
    table = Table("A \\ B", *EFFECTS, title="From A to B")
    for x in EFFECTS:
        table.add_row(x, *(f"{report.shift[(x, y)]:,}" for y in EFFECTS))
    return table


def _side_cell(s: Side) -> str:
    return "\n".join([f"[bold {STYLE[s.effect]}]{s.effect}[/]", *(c.rule for c in s.clauses)])


def shift_view(report: ShiftReport, console: Console, ref: str, show: int) -> None:
    """Counts under each side, the A-to-B matrix, and the requests whose decision changed."""
    console.print(f"[bold]A[/] {packs_label(report.a)}\n[bold]B[/] {packs_label(report.b)}")
    console.print(f"{report.total:,} decided, {len(report.changed):,} changed")
    console.print(_counts(report))
    console.print(_matrix(report))
    if report.changed:
        table = Table(ref, "id", "categories", "A", "B", title="Changed", show_lines=True)
        for c in report.changed[:show]:
            cats = "\n".join(f"{k} {v:.2f}" for k, v in sorted(c.categories.items(),
                                                                key=lambda kv: -kv[1]))  # fmt: skip
            table.add_row(str(c.ref), str(c.id), cats, _side_cell(c.a), _side_cell(c.b))
        console.print(table)
        if len(report.changed) > show:
            console.print(f"… and {len(report.changed) - show:,} more (all of them with --json)")
        sides = [s for c in report.changed[:show] for s in (c.a, c.b)]
        print_clauses(clauses_once(sides), console)
    for message in report.invalid:
        console.print(f"[yellow]skipped[/] {message}")
