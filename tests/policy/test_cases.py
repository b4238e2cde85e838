"""`redline policies test` and pack validation that names the line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from redline.cli.main import app
from redline.errors import PolicyError
from redline.policy.cases import load_cases, run_cases
from redline.policy.pack import PackRegistry, parse_pack

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "packs"
PACK = EXAMPLES / "base-security.cedar"
CASES = EXAMPLES / "base-security.tests.toml"


def _test(*args: str) -> tuple[int, str]:
    done = CliRunner().invoke(app, ["policies", "test", *args])
    return done.exit_code, " ".join(done.output.split())


def test_example_pack_passes_its_own_tests() -> None:
    code, out = _test(str(PACK), "--cases", str(CASES))
    assert code == 0, out
    assert "11 passed, 0 failed" in out


def test_a_wrong_expectation_fails_and_is_named(tmp_path: Path) -> None:
    text = CASES.read_text()
    needle = (
        'context = { us_persons = true, authority_ref = "warrant 24-MJ-0071" }\nexpect = "allow"'
    )
    assert needle in text
    wrong = tmp_path / "wrong.toml"
    wrong.write_text(text.replace(needle, needle.replace('"allow"', '"deny"')))
    code, out = _test(str(PACK), "--cases", str(wrong))
    assert code == 1
    assert "FAIL a US person with an attested authority (line 43): expected deny, got allow" in out
    assert "10 passed, 1 failed" in out


def test_a_wrong_deciding_rule_fails(tmp_path: Path) -> None:
    cases = tmp_path / "cases.jsonl"
    lines = [
        {"name": "cyber", "category": "cyber_offense", "expect": "deny",
         "rule": "BASE-2-no-offensive-cyber"},
        {"name": "wrong rule", "category": "mass_surveillance", "expect": "deny",
         "rule": "BASE-2-no-offensive-cyber"},
    ]  # fmt: skip
    cases.write_text("\n".join(json.dumps(c) for c in lines) + "\n")
    code, out = _test(str(PACK), "--cases", str(cases))
    assert code == 1
    assert "PASS cyber (line 1)" in out
    assert (
        "FAIL wrong rule (line 2): expected deny by BASE-2-no-offensive-cyber, "
        "got deny by base-security / BASE-3-no-population-collection" in out
    )


def test_composition_with_the_provider_pack() -> None:
    # The provider's terms hold targeted surveillance for an approver even where the base
    # pack allows it: the most restrictive wins.
    packs = [*PackRegistry().select("provider-redlines"), parse_pack(PACK.read_text(), "x")]
    (result,) = run_cases(packs, [c for c in load_cases(CASES) if c.line == 49])
    assert result.got.effect == "hold"
    assert not result.passed


def test_a_case_with_an_unknown_category_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[case]]\ncategory = "cyber"\nexpect = "deny"\n')
    code, out = _test(str(PACK), "--cases", str(bad))
    assert code == 2
    assert "bad.toml, line 1: category: " in out and "unknown category 'cyber'" in out


def test_a_pack_that_does_not_validate_is_refused_naming_the_line(tmp_path: Path) -> None:
    broken = tmp_path / "base-security.cedar"
    broken.write_text(PACK.read_text().replace("context.us_persons", "context.us_person"))
    code, out = _test(str(broken), "--cases", str(CASES))
    assert code == 2
    assert "line 22, rule BASE-4-us-persons-need-authority: attribute `us_person`" in out


@pytest.mark.parametrize(
    ("old", "new", "line", "message"),
    [
        # a missing `;` shows where the next rule begins
        ("resource);", "resource)", 11, "Cedar syntax error: unexpected token `@`"),
        ('context.purpose == "military" &&', 'context.purpose == "military" &', 28, "syntax"),
        ('"mass_surveillance");', '"mass_surveilance");', 17, "unknown category"),
        ('@id("BASE-2-no-offensive-cyber")\n', "", 12, "needs @id and @reason"),
    ],
)
def test_errors_name_the_line(old: str, new: str, line: int, message: str) -> None:
    text = PACK.read_text()
    assert old in text
    with pytest.raises(PolicyError) as info:
        parse_pack(text.replace(old, new, 1), "base-security.cedar")
    assert f"base-security.cedar, line {line}: " in str(info.value)
    assert message in str(info.value)


def test_a_server_refuses_to_start_on_a_bad_pack_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # a first start writes its ledger key under ./var
    (tmp_path / "base-security.cedar").write_text(
        PACK.read_text().replace("context.authority_ref", "context.authority")
    )
    with pytest.raises(PolicyError, match=r"line 23, rule BASE-4-us-persons-need-authority"):
        PackRegistry(tmp_path)
    done = CliRunner().invoke(app, ["serve", "--policy-dir", str(tmp_path), "--db", "x.db"])
    assert done.exit_code == 2
    assert "line 23, rule BASE-4" in " ".join(done.output.split())
