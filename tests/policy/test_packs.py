"""Loading packs: shipped ones validate; a user's directory loads; bad packs say why."""

from __future__ import annotations

from pathlib import Path

import pytest

from redline.errors import PolicyError, UnknownPolicyError
from redline.policy.compose import compose
from redline.policy.engine import PackEvaluator
from redline.policy.facts import Facts
from redline.policy.pack import PackRegistry, parse_pack
from tests.support.classification import only

GOOD = """// pack: base-security
// version: 2.1.0
// title: A base's own rules
// threshold.cyber_offense: 0.3

@id("base.permit")
@reason("Base policy §1: everything not below is permitted.")
permit(principal, action == Redline::Action::"use", resource);

@id("BASE-7-no-offense")
@reason("Base policy §7: no offensive cyber from this enclave.")
forbid(principal, action, resource == Redline::Category::"cyber_offense");
"""


def test_shipped_packs_validate_and_every_rule_cites_a_clause() -> None:
    registry = PackRegistry()
    assert set(registry.packs) == {
        "provider-redlines",
        "all-lawful-purposes",
        "dodd-3000-09",
        "eu-ai-act-art5",
    }
    for pack in registry.packs.values():
        assert pack.version and len(pack.sha256) == 64
        for rule in pack.rule_list():
            assert rule.id and len(rule.reason) > 20, rule


def test_user_pack_directory(tmp_path: Path) -> None:
    (tmp_path / "base-security.cedar").write_text(GOOD)
    registry = PackRegistry(tmp_path)
    pack = registry.get("base-security")
    assert pack.version == "2.1.0"
    assert pack.thresholds == {"cyber_offense": 0.3}
    outcome = compose(PackEvaluator(), [pack], only("cyber_offense", 0.35), Facts())
    assert outcome.effect.value == "deny"
    assert outcome.deciding[0].rules[0].id == "BASE-7-no-offense"


def test_policy_dir_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "base-security.cedar").write_text(GOOD)
    monkeypatch.setenv("REDLINE_POLICY_DIR", str(tmp_path))
    assert "base-security" in PackRegistry().packs


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD.replace("// pack: base-security\n", ""), "header line `// pack: ...` is missing"),
        (GOOD.replace('@id("BASE-7-no-offense")\n', ""), "every rule needs @id and @reason"),
        (GOOD.replace('cyber_offense");', 'cyber_ofense");'), "unknown category 'cyber_ofense'"),
        (GOOD.replace(");\n", ") when { context.warrant };\n"), "does not validate"),
        (GOOD.replace("permit(", "permit(("), "Cedar syntax error"),
        (
            GOOD.replace("threshold.cyber_offense: 0.3", "threshold.cyber_offense: high"),
            "is not a number",
        ),
    ],
    ids=["no-header", "no-id", "unknown-category", "schema", "syntax", "threshold"],
)
def test_invalid_pack_says_why(text: str, message: str) -> None:
    with pytest.raises(PolicyError) as info:
        parse_pack(text, "base-security.cedar")
    assert message in str(info.value)
    assert "base-security.cedar" in str(info.value)


def test_file_name_must_match_pack_name(tmp_path: Path) -> None:
    (tmp_path / "other.cedar").write_text(GOOD)
    with pytest.raises(PolicyError, match="header names pack 'base-security', file is 'other'"):
        PackRegistry(tmp_path)


def test_missing_policy_dir(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="does not exist"):
        PackRegistry(tmp_path / "nope")


def test_unknown_pack_lists_the_available_ones() -> None:
    with pytest.raises(UnknownPolicyError, match="available: all-lawful-purposes"):
        PackRegistry().select("provider-redlines,nope")
