"""Doubt is not permission (policy/doubt.py): restricted probability spread over several
categories counts as a whole, and a use in doubt is held or denied, never allowed."""

from __future__ import annotations

import pytest

from redline.classify.head import load_head
from redline.classify.types import (
    DEFAULT_THRESHOLDS,
    CategoryScore,
    Classification,
    Thresholds,
)
from redline.decision import from_outcome
from redline.policy.compose import compose
from redline.policy.engine import PackEvaluator
from redline.policy.facts import Facts
from redline.policy.pack import PackRegistry
from redline.taxonomy import CATEGORIES

REGISTRY = PackRegistry()
EVALUATOR = PackEvaluator()
SHIPPED = load_head().thresholds


def split(scores: dict[str, float], thresholds: Thresholds = DEFAULT_THRESHOLDS) -> Classification:
    return Classification(
        scores={c: CategoryScore(c, scores.get(c, 0.0)) for c in CATEGORIES},
        classifier="doubt-test",
        thresholds=thresholds,
    )


# Issue 17: a request to release a toxic gas in a stadium. No category reached its band.
TOXIC_GAS = {"cbrn_weapons": 0.29, "harmful_content": 0.23, "general": 0.41}


@pytest.mark.parametrize("thresholds", [DEFAULT_THRESHOLDS, SHIPPED], ids=["default", "shipped"])
@pytest.mark.parametrize(
    "packs",
    [["provider-redlines"], ["all-lawful-purposes"], ["provider-redlines", "eu-ai-act-art5"]],
)
def test_toxic_gas_split_is_never_allowed(thresholds: Thresholds, packs: list[str]) -> None:
    cl = split(TOXIC_GAS, thresholds)
    assert all(cl.score(c) < thresholds.of(c) for c in ("cbrn_weapons", "harmful_content"))
    outcome = compose(EVALUATOR, REGISTRY.select(packs), cl, Facts())
    # Both candidates are denied by these packs, so the doubt is a deny.
    assert outcome.effect.value == "deny"
    assert {v.category for v in outcome.deciding} == {"cbrn_weapons", "harmful_content"}
    assert all(v.note == "doubt" for v in outcome.deciding)


def test_the_shipped_limit_would_have_allowed_either_half_alone() -> None:
    # The mass counts as a whole: each half alone is under the limit and allowed.
    pack = REGISTRY.select(["provider-redlines"])
    for category, score in (("cbrn_weapons", 0.29), ("harmful_content", 0.23)):
        cl = split({category: score, "general": 0.41}, SHIPPED)
        assert score < SHIPPED.doubt_limit()
        assert compose(EVALUATOR, pack, cl, Facts()).effect.value == "allow"


def test_hold_names_candidates_and_their_pack_effects() -> None:
    # cbrn_weapons is denied by the pack, cyber_offense held: not every candidate is
    # denied, so a human decides, and the answer names both with the effect each gets.
    cl = split({"cbrn_weapons": 0.25, "cyber_offense": 0.2, "general": 0.5})
    outcome = compose(EVALUATOR, REGISTRY.select(["provider-redlines"]), cl, Facts())
    assert outcome.effect.value == "hold"
    assert {v.category for v in outcome.deciding} == {"cbrn_weapons", "cyber_offense"}
    decision = from_outcome(outcome, cl, id=1)
    reason = decision.decided_by[0].reason
    assert "cbrn_weapons 0.25 (provider-redlines: deny)" in reason
    assert "cyber_offense 0.20 (provider-redlines: hold)" in reason
    assert decision.release is not None and decision.release.roles == ["approver"]


def test_doubt_over_use_of_force_needs_a_commander() -> None:
    cl = split({"use_of_force": 0.2, "target_development": 0.2})
    outcome = compose(EVALUATOR, REGISTRY.select(["provider-redlines"]), cl, Facts())
    assert outcome.effect.value == "hold"
    assert {r.role for r in outcome.release} == {"commander"}


def test_deny_only_when_every_candidate_is_denied() -> None:
    packs = REGISTRY.select(["provider-redlines"])
    all_denied = split({"mass_surveillance": 0.2, "influence_operations": 0.2})
    assert compose(EVALUATOR, packs, all_denied, Facts()).effect.value == "deny"
    one_held = split({"mass_surveillance": 0.2, "targeted_surveillance": 0.2})
    assert compose(EVALUATOR, packs, one_held, Facts()).effect.value == "hold"


def test_categories_the_packs_allow_are_not_mass() -> None:
    # dodd-3000-09 allows cbrn_weapons and harmful_content: nothing restricted is in doubt.
    cl = split(TOXIC_GAS)
    assert compose(EVALUATOR, REGISTRY.select(["dodd-3000-09"]), cl, Facts()).effect.value == (
        "allow"
    )
    # Allowed categories do not add up to doubt, however they split.
    benign = split({"defensive_security": 0.3, "operations_support": 0.3, "general": 0.3})
    packs = REGISTRY.select(["provider-redlines"])
    assert compose(EVALUATOR, packs, benign, Facts()).effect.value == "allow"


def test_an_attestation_that_allows_a_category_removes_it_from_the_mass() -> None:
    # eu-ai-act-art5 releases targeted surveillance on an attested authority alone.
    cl = split({"targeted_surveillance": 0.3, "mass_surveillance": 0.1, "general": 0.6})
    packs = REGISTRY.select(["eu-ai-act-art5"])
    assert compose(EVALUATOR, packs, cl, Facts()).effect.value == "hold"
    attested = compose(EVALUATOR, packs, cl, Facts(authority_ref=True))
    assert attested.effect.value == "allow"


def test_under_the_limit_is_allowed() -> None:
    cl = split({"cbrn_weapons": 0.1, "harmful_content": 0.1, "general": 0.8})
    packs = REGISTRY.select(["provider-redlines"])
    assert compose(EVALUATOR, packs, cl, Facts()).effect.value == "allow"


def test_the_limit_is_the_thresholds_own() -> None:
    strict = Thresholds(DEFAULT_THRESHOLDS.threshold, DEFAULT_THRESHOLDS.band, allow_below=0.15)
    cl = split({"cbrn_weapons": 0.1, "harmful_content": 0.1}, strict)
    packs = REGISTRY.select(["provider-redlines"])
    assert compose(EVALUATOR, packs, cl, Facts()).effect.value == "deny"
    assert DEFAULT_THRESHOLDS.doubt_limit() == pytest.approx(0.35)
    # The shipped head's limit is its held-out operating point: threshold minus band.
    restricted = "cbrn_weapons"
    assert SHIPPED.doubt_limit() == pytest.approx(
        SHIPPED.allow_below
        if SHIPPED.allow_below is not None
        else SHIPPED.of(restricted) - SHIPPED.band_of(restricted)
    )


def test_a_pack_that_lowers_a_threshold_lowers_the_limit_for_it() -> None:
    # base-security asks for cyber_offense at 0.35 where the classifier's threshold is 0.5:
    # its doubt begins 0.15 lower too, at 0.20, and it denies the only candidate.
    from pathlib import Path

    from redline.policy.pack import parse_pack

    example = Path(__file__).resolve().parents[2] / "examples" / "packs" / "base-security.cedar"
    pack = parse_pack(example.read_text(), str(example))
    assert pack.thresholds["cyber_offense"] == 0.35
    cl = split({"cyber_offense": 0.25, "general": 0.7})
    assert compose(EVALUATOR, [pack], cl, Facts()).effect.value == "deny"
    provider = REGISTRY.select(["provider-redlines"])
    assert compose(EVALUATOR, provider, cl, Facts()).effect.value == "allow"
    below = split({"cyber_offense": 0.15, "general": 0.8})
    assert compose(EVALUATOR, [pack], below, Facts()).effect.value == "allow"
