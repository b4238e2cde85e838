"""`redline policies diff`: the exhaustive comparison of two compositions of packs.

EXPECTED below is derived by hand from SPEC.md's pack table ("Policy packs (version 1)"),
not from the program: for each category, provider-redlines (A) against
all-lawful-purposes (B), with "hold (allow with X)" allowing once X is attested, a plain
hold staying a hold whatever is attested, and deny being released by nothing.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from typer.testing import CliRunner

from redline.cli.main import app
from redline.policy.diff import DiffReport, diff, report_json
from redline.policy.pack import PackRegistry, parse_pack
from redline.taxonomy import CATEGORIES

A, H, D = "allow", "hold", "deny"
REGISTRY = PackRegistry()

# (category, the conditions that matter, effect under A, effect under B). Every other
# attestation (us_persons, purpose, classification) changes nothing in either pack.
EXPECTED = [
    # A: deny. B: hold (allow with authority_ref).
    ("mass_surveillance", {"authority_ref": "false"}, D, H),
    ("mass_surveillance", {"authority_ref": "true"}, D, A),
    # A: hold (needs authority_ref AND an approval). B: hold (allow with authority_ref).
    # Without authority_ref both hold: no difference.
    ("targeted_surveillance", {"authority_ref": "true"}, H, A),
    # A: hold (approval). B: allow.
    ("target_development", {}, H, A),
    # A: deny. B: hold (allow with senior_review_ref).
    ("autonomous_weapons", {"senior_review_ref": "false"}, D, H),
    ("autonomous_weapons", {"senior_review_ref": "true"}, D, A),
    # use_of_force: hold under both (a commander's approval). No difference.
    ("weapons_development", {}, H, A),
    # cbrn_weapons: deny under both. No difference.
    ("cyber_offense", {}, H, A),
    # A: deny. B: hold (allow with authority_ref).
    ("influence_operations", {"authority_ref": "false"}, D, H),
    ("influence_operations", {"authority_ref": "true"}, D, A),
    # harmful_content: deny under both; the four allowed categories: allow under both.
]


AGGREGATE = "aggregate.distinct_subjects_24h"


@cache
def _report(a: str, b: str) -> DiffReport:
    return diff(REGISTRY.select(a), REGISTRY.select(b))


def _rows(a: str, b: str) -> list[tuple[str, dict[str, str], str, str]]:
    return _not_counted(_report(a, b))


def _not_counted(report: DiffReport) -> list[tuple[str, dict[str, str], str, str]]:
    """The differing rows for a request that does not count towards an aggregate."""
    rows = []
    for d in report.differences:
        when = report.conditions(d)
        band = when.pop(AGGREGATE, "*")
        if band == "*" or "(not counted)" in band.split(" | "):
            rows.append((d.category, {k: v for k, v in when.items() if v != "*"},
                         d.a.effect, d.b.effect))  # fmt: skip
    return rows


def test_provider_redlines_against_all_lawful_purposes_is_the_spec_table() -> None:
    assert _rows("provider-redlines", "all-lawful-purposes") == EXPECTED


def test_every_cell_is_counted() -> None:
    report = _report("provider-redlines", "all-lawful-purposes")
    # 14 categories x authority_ref 2 x senior_review_ref 2 x us_persons 3 x purpose 2
    # (not attested, any other value) x classification 2 x 6 aggregate bands (not
    # counted, and the counts 25 and 200 cut: 0-24, 25, 26-199, 200, >=201).
    assert report.examined == 14 * 2 * 2 * 3 * 2 * 2 * 6
    assert sum(d.cells for d in report.differences) == report.differing


def test_each_side_names_its_own_deciding_clause() -> None:
    report = _report("provider-redlines", "all-lawful-purposes")
    for d in report.differences:
        for side, pack in ((d.a, "provider-redlines"), (d.b, "all-lawful-purposes")):
            assert side.clauses and all(c.pack == pack for c in side.clauses)
            if side.effect != A:  # a hold or deny cites the forbid rule on this category
                rules = {r.id: r for r in REGISTRY.get(pack).rule_list()}
                cited = [rules[c.rule] for c in side.clauses]
                assert all(r.effect == "forbid" for r in cited)
                # the rule on this category, or the pack's aggregate rule
                assert all(r.category == d.category or r.action == "aggregate" for r in cited)
        assert d.b.release or d.b.effect != H  # a hold says what releases it


def test_a_changed_pack_changes_the_list() -> None:
    text = REGISTRY.get("all-lawful-purposes").text + (
        '\n@id("ALP-9-cyber")\n@reason("Changed: offensive cyber needs an approver.")\n'
        'forbid(principal, action, resource == Redline::Category::"cyber_offense")\n'
        'unless { context.approvals.contains("approver") };\n'
    )
    changed = parse_pack(text, "all-lawful-purposes.cedar")
    report = diff(REGISTRY.select("provider-redlines"), [changed])
    rows = _not_counted(report)
    assert "cyber_offense" not in {row[0] for row in rows}
    assert rows == [row for row in EXPECTED if row[0] != "cyber_offense"]


def test_a_pack_against_itself_differs_nowhere() -> None:
    assert _rows("eu-ai-act-art5", "eu-ai-act-art5") == []


def test_values_a_pack_names_become_cells() -> None:
    # eu-ai-act-art5 steps aside for purpose "military" (Article 2(3)).
    report = diff(REGISTRY.select("provider-redlines"), REGISTRY.select("eu-ai-act-art5"))
    purpose = next(d for d in report.dimensions if d.name == "purpose")
    assert purpose.values == ("", "military", "(other)")
    rows = _rows("provider-redlines", "eu-ai-act-art5")
    assert ("mass_surveillance", {"purpose": "military"}, D, A) in rows
    assert ("use_of_force", {}, H, A) in rows


def test_compositions_are_comma_joined() -> None:
    rows = _rows("provider-redlines", "all-lawful-purposes,dodd-3000-09")
    # dodd adds nothing stricter than all-lawful-purposes, so the list is the same.
    assert rows == EXPECTED
    assert _rows("provider-redlines,all-lawful-purposes", "provider-redlines") == []


def test_cli_json_and_html(tmp_path: Path) -> None:
    runner = CliRunner()
    done = runner.invoke(app, ["policies", "diff", "provider-redlines", "all-lawful-purposes",
                               "--json"])  # fmt: skip
    assert done.exit_code == 0, done.output
    body = json.loads(done.stdout)
    report = _report("provider-redlines", "all-lawful-purposes")
    assert body["cells_differing"] == report.differing
    assert [(d["category"], d["when"], d["a"]["effect"]) for d in body["differences"]] == [
        (d.category, report.conditions(d), d.a.effect) for d in report.differences
    ]
    page = tmp_path / "diff.html"
    args = ["policies", "diff", "provider-redlines", "all-lawful-purposes", "--html", str(page)]
    assert runner.invoke(app, args).exit_code == 0
    html = page.read_text()
    assert "PR-2.3-autonomous-weapons" in html and "ALP §2.3" in html
    assert "<script" not in html and "src=" not in html and "<link" not in html


def test_cli_table_quotes_the_clauses() -> None:
    done = CliRunner().invoke(app, ["policies", "diff", "provider-redlines", "all-lawful-purposes"])
    assert done.exit_code == 0, done.output
    out = " ".join(done.stdout.split())
    assert "differ, merged into" in out
    assert "“Provider terms §2.1: the model must not be used for mass surveillance" in out


def test_cli_unknown_pack_is_an_error() -> None:
    done = CliRunner().invoke(app, ["policies", "diff", "provider-redlines", "nope"])
    assert done.exit_code == 2
    assert "unknown policy pack 'nope'" in done.output


def test_report_json_lists_both_sides() -> None:
    report = diff(REGISTRY.select("provider-redlines"), REGISTRY.select("dodd-3000-09"))
    body = report_json(report)
    assert body["a"][0]["name"] == "provider-redlines"  # type: ignore[index]
    assert body["b"][0]["sha256"] == REGISTRY.get("dodd-3000-09").sha256  # type: ignore[index]


def test_readme_shows_the_real_headline_diff() -> None:
    from io import StringIO

    from rich.console import Console

    from redline.cli.lab_view import diff_table

    buffer = StringIO()
    report = _report("provider-redlines", "all-lawful-purposes")
    diff_table(report, Console(file=buffer, width=132, color_system=None))
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert buffer.getvalue().rstrip("\n") in readme


# SPEC.md "Aggregate rules (version 1)", per principal per 24 h: provider-redlines above
# 25 distinct subjects decides as mass_surveillance, deny; all-lawful-purposes above 200
# holds, released by senior_review_ref. Below: SPEC's pack table with its releases.
ORDER = {A: 0, H: 1, D: 2}


def _spec_a(category: str, authority: bool, count: int | None) -> str:
    base = {"mass_surveillance": D, "autonomous_weapons": D, "cbrn_weapons": D,
            "influence_operations": D, "harmful_content": D, "targeted_surveillance": H,
            "target_development": H, "use_of_force": H, "weapons_development": H,
            "cyber_offense": H}.get(category, A)  # fmt: skip
    return D if count is not None and count > 25 else base


def _spec_b(category: str, authority: bool, senior: bool, count: int | None) -> str:
    base = {"mass_surveillance": A if authority else H,
            "targeted_surveillance": A if authority else H,
            "influence_operations": A if authority else H,
            "autonomous_weapons": A if senior else H, "use_of_force": H,
            "cbrn_weapons": D, "harmful_content": D}.get(category, A)  # fmt: skip
    above = count is not None and count > 200 and not senior
    return max(base, H if above else A, key=ORDER.__getitem__)


def test_aggregate_bands_follow_the_spec_aggregate_table() -> None:
    from itertools import product

    report = _report("provider-redlines", "all-lawful-purposes")
    dims = {d.name: d for d in report.dimensions}
    band = dims["aggregate.distinct_subjects_24h"]
    assert band.values == ("(not counted)", "0-24", "25", "26-199", "200", ">=201")
    counts = {"(not counted)": None, "0-24": 0, "25": 25, "26-199": 26, "200": 200, ">=201": 201}
    got = set()
    for d in report.differences:
        when = report.conditions(d)
        axes = [list(dims[k].values) if v == "*" else v.split(" | ") for k, v in when.items()]
        for values in product(*axes):
            cell = dict(zip(when, values, strict=True))
            got.add((d.category, cell["authority_ref"], cell["senior_review_ref"],
                     cell["aggregate.distinct_subjects_24h"], d.a.effect, d.b.effect))  # fmt: skip
    expected = set()
    for category, auth, senior, label in product(
        CATEGORIES, ("false", "true"), ("false", "true"), band.values
    ):
        a = _spec_a(category, auth == "true", counts[label])
        b = _spec_b(category, auth == "true", senior == "true", counts[label])
        if a != b:
            expected.add((category, auth, senior, label, a, b))
    assert got == expected
    # each (category, authority_ref, senior_review_ref, band) over 3 x 2 x 2 other facts
    assert report.differing == len(expected) * 12
