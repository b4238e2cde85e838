"""Aggregate rules in packs: validation on load, and memoisation on count bands."""

from __future__ import annotations

from typing import Any

import pytest

from redline.errors import PolicyError
from redline.policy import engine
from redline.policy.bands import EXACT, band_key
from redline.policy.engine import PackEvaluator
from redline.policy.facts import Facts
from redline.policy.pack import PackRegistry, parse_pack

HEADER = "// pack: custom\n// version: 1\n"
PERMIT = 'permit(principal, action == Redline::Action::"aggregate", resource);\n'


def counts(n: int) -> dict[str, Any]:
    names = ("distinct_subjects_1h", "distinct_subjects_24h", "deployment_distinct_subjects_1h",
             "deployment_distinct_subjects_24h")  # fmt: skip
    return {"lookup": True, "subjects": 1} | dict.fromkeys(names, n)


def test_an_aggregate_rule_must_name_a_known_window() -> None:
    rule = (
        '@id("x")\n@reason("r")\n'
        'forbid(principal, action == Redline::Action::"aggregate", resource)\n'
        "when { context.aggregate.distinct_subjects_24h > 3 };\n"
    )
    with pytest.raises(PolicyError, match="needs @window"):
        parse_pack(HEADER + '@id("p")\n@reason("p")\n' + PERMIT + rule, "custom.cedar")
    with pytest.raises(PolicyError, match="needs @window"):
        parse_pack(HEADER + rule.replace('@id("x")', '@id("x")\n@window("7d")'), "custom.cedar")
    with pytest.raises(PolicyError, match="@scope"):
        bad_scope = rule.replace('@id("x")', '@id("x")\n@window("1h")\n@scope("world")')
        parse_pack(HEADER + bad_scope, "custom.cedar")


def test_a_use_rule_cannot_read_the_counts() -> None:
    text = (
        HEADER + '@id("x")\n@reason("r")\n'
        'forbid(principal, action == Redline::Action::"use", resource)\n'
        "when { context.aggregate.distinct_subjects_24h > 3 };\n"
    )
    with pytest.raises(PolicyError, match="does not validate"):
        parse_pack(text, "custom.cedar")


def test_bands_key_counts_by_the_side_of_each_limit() -> None:
    bands = {"distinct_subjects_24h": (25,)}
    keys = {band_key(bands, counts(n)) for n in range(0, 25)}
    assert len(keys) == 1
    assert band_key(bands, counts(25)) not in keys
    assert band_key(bands, counts(26)) == band_key(bands, counts(500))
    assert band_key({"subjects": EXACT}, counts(3)) != band_key(
        {"subjects": EXACT}, {"subjects": 4}
    )


def test_arithmetic_on_a_count_is_keyed_exactly() -> None:
    pack = parse_pack(
        HEADER + '@id("p")\n@reason("p")\n' + PERMIT + '@id("x")\n@reason("r")\n@window("1h")\n'
        'forbid(principal, action == Redline::Action::"aggregate", resource)\n'
        "when { context.aggregate.distinct_subjects_1h + 1 > 3 };\n",
        "custom.cedar",
    )
    assert pack.aggregate_bands == {"distinct_subjects_1h": EXACT}
    evaluator = PackEvaluator()
    effects = [evaluator.evaluate_aggregate(pack, Facts(), counts(n)) for n in (1, 2, 3)]
    assert [v.effect.value for v in effects if v] == ["allow", "allow", "deny"]


def test_evaluation_is_memoised_per_band(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = engine.cedarpy.is_authorized

    def counted(*args: Any) -> Any:
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(engine.cedarpy, "is_authorized", counted)
    pack = PackRegistry().get("provider-redlines")
    evaluator = PackEvaluator()
    for n in range(1, 25):
        verdict = evaluator.evaluate_aggregate(pack, Facts(), counts(n))
        assert verdict is not None and verdict.effect.value == "allow"
    assert len(calls) == 1  # one band: below the limit of 25
    for n in range(26, 60):
        verdict = evaluator.evaluate_aggregate(pack, Facts(), counts(n))
        assert verdict is not None and verdict.effect.value == "deny"
    below_and_above = len(calls)
    evaluator.evaluate_aggregate(pack, Facts(), counts(7))
    assert len(calls) == below_and_above
