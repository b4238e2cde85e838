"""SPEC.md's pack table, cell by cell: every category × pack × relevant attestation.

The expected values are transcribed from SPEC.md ("Policy packs (version 1)"); the
engine under test is the real Cedar evaluation of the shipped packs.
"""

from __future__ import annotations

import pytest

from redline.decision import from_outcome
from redline.policy.compose import Outcome, compose
from redline.policy.engine import PackEvaluator
from redline.policy.facts import Facts
from redline.policy.pack import PackRegistry
from redline.taxonomy import CATEGORIES
from tests.support.classification import only

PACKS = ("provider-redlines", "all-lawful-purposes", "dodd-3000-09", "eu-ai-act-art5")
A, H, D = "allow", "hold", "deny"

# category: effect under (provider-redlines, all-lawful-purposes, dodd-3000-09,
# eu-ai-act-art5), with no attestations
TABLE = {
    "mass_surveillance": (D, H, A, D),
    "targeted_surveillance": (H, H, A, H),
    "target_development": (H, A, A, A),
    "autonomous_weapons": (D, H, H, A),
    "use_of_force": (H, H, H, A),
    "weapons_development": (H, A, A, A),
    "cbrn_weapons": (D, D, A, A),
    "cyber_offense": (H, A, A, A),
    "influence_operations": (D, H, A, D),
    "harmful_content": (D, D, A, A),
    "foreign_intelligence": (A, A, A, A),
    "defensive_security": (A, A, A, A),
    "operations_support": (A, A, A, A),
    "general": (A, A, A, A),
}

# "hold (allow with X)": X alone releases. Plain hold: an approval by the role releases.
# (pack, category) -> (attestations that release it, role whose approval releases it)
RELEASES = {
    ("provider-redlines", "targeted_surveillance"): (("authority_ref",), "approver"),
    ("provider-redlines", "target_development"): ((), "approver"),
    ("provider-redlines", "use_of_force"): ((), "commander"),
    ("provider-redlines", "weapons_development"): ((), "approver"),
    ("provider-redlines", "cyber_offense"): ((), "approver"),
    ("all-lawful-purposes", "mass_surveillance"): (("authority_ref",), None),
    ("all-lawful-purposes", "targeted_surveillance"): (("authority_ref",), None),
    ("all-lawful-purposes", "autonomous_weapons"): (("senior_review_ref",), None),
    ("all-lawful-purposes", "use_of_force"): ((), "commander"),
    ("all-lawful-purposes", "influence_operations"): (("authority_ref",), None),
    ("dodd-3000-09", "autonomous_weapons"): (("senior_review_ref",), None),
    ("dodd-3000-09", "use_of_force"): ((), "commander"),
    ("eu-ai-act-art5", "targeted_surveillance"): (("authority_ref",), None),
}

REGISTRY = PackRegistry()
EVALUATOR = PackEvaluator()


def decide(packs: list[str], category: str, facts: Facts) -> str:
    outcome = compose(EVALUATOR, REGISTRY.select(packs), only(category), facts)
    return outcome.effect.value


def test_table_covers_taxonomy() -> None:
    assert set(TABLE) == set(CATEGORIES)


@pytest.mark.parametrize("category", CATEGORIES)
@pytest.mark.parametrize("pack_index", range(4), ids=PACKS)
def test_no_attestations(category: str, pack_index: int) -> None:
    assert decide([PACKS[pack_index]], category, Facts()) == TABLE[category][pack_index]


@pytest.mark.parametrize(("pack", "category"), sorted(RELEASES))
def test_hold_names_its_release(pack: str, category: str) -> None:
    attestations, role = RELEASES[(pack, category)]
    outcome = compose(EVALUATOR, REGISTRY.select([pack]), only(category), Facts())
    assert outcome.effect.value == "hold"
    (release,) = outcome.release
    assert release.attestations == attestations
    assert release.role == role


@pytest.mark.parametrize(("pack", "category"), sorted(RELEASES))
def test_release_releases_and_nothing_less_does(pack: str, category: str) -> None:
    attestations, role = RELEASES[(pack, category)]
    released = Facts(
        **dict.fromkeys(attestations, True), approvals=frozenset({role}) if role else frozenset()
    )
    assert decide([pack], category, released) == "allow"
    if attestations and role:  # both are needed: either alone keeps the hold
        assert decide([pack], category, Facts(**dict.fromkeys(attestations, True))) == "hold"
        assert decide([pack], category, Facts(approvals=frozenset({role}))) == "hold"


@pytest.mark.parametrize("category", ["use_of_force", "target_development", "cyber_offense"])
def test_wrong_role_does_not_release(category: str) -> None:
    wrong = "approver" if category == "use_of_force" else "commander"
    assert decide(["provider-redlines"], category, Facts(approvals=frozenset({wrong}))) == "hold"


@pytest.mark.parametrize("category", [c for c in CATEGORIES if TABLE[c][0] == D])
def test_deny_is_released_by_nothing(category: str) -> None:
    everything = Facts(
        authority_ref=True, senior_review_ref=True, approvals=frozenset({"approver", "commander"})
    )
    assert decide(["provider-redlines"], category, everything) == "deny"


@pytest.mark.parametrize(
    ("category", "civil", "military"),
    [("mass_surveillance", D, A), ("targeted_surveillance", H, A), ("influence_operations", D, A)],
)
def test_eu_pack_does_not_apply_to_military_purpose(
    category: str, civil: str, military: str
) -> None:
    assert decide(["eu-ai-act-art5"], category, Facts(purpose="research")) == civil
    assert decide(["eu-ai-act-art5"], category, Facts(purpose="military")) == military


@pytest.mark.parametrize("us_persons", ["true", "false", "unknown"])
def test_us_persons_does_not_change_the_table(us_persons: str) -> None:
    # SPEC's table has no us_persons column: the attestation is recorded, not decisive.
    for category, row in TABLE.items():
        for pack, expected in zip(PACKS, row, strict=True):
            assert decide([pack], category, Facts(us_persons=us_persons)) == expected


@pytest.mark.parametrize("category", CATEGORIES)
def test_composition_takes_the_most_restrictive(category: str) -> None:
    order = {A: 0, H: 1, D: 2}
    expected = max(TABLE[category], key=order.__getitem__)
    outcome = compose(EVALUATOR, REGISTRY.select(list(PACKS)), only(category), Facts())
    assert outcome.effect.value == expected
    deciding = {v.pack for v in outcome.deciding}
    assert deciding == {p for p, e in zip(PACKS, TABLE[category], strict=True) if e == expected}


def test_uncertainty_band_never_allows() -> None:
    # 0.4 is below the 0.5 threshold but at or above the 0.35 edge of the 0.15 band: in
    # doubt. Its one candidate is denied by the pack, so the doubt is a deny; a candidate
    # the pack holds is held (policy/doubt.py).
    outcome = compose(
        EVALUATOR, REGISTRY.select(["provider-redlines"]), only("mass_surveillance", 0.4), Facts()
    )
    assert outcome.effect.value == "deny"
    assert outcome.deciding[0].rules[0].id.endswith("doubt-mass_surveillance")
    held = compose(
        EVALUATOR, REGISTRY.select(["provider-redlines"]), only("cyber_offense", 0.4), Facts()
    )
    assert held.effect.value == "hold"
    assert held.deciding[0].rules[0].id.endswith("doubt-cyber_offense")
    below_band = compose(
        EVALUATOR, REGISTRY.select(["provider-redlines"]), only("mass_surveillance", 0.2), Facts()
    )
    assert below_band.effect.value == "allow"


def test_uncertain_allowed_category_stays_allowed() -> None:
    outcome = compose(
        EVALUATOR, REGISTRY.select(["provider-redlines"]), only("defensive_security", 0.4), Facts()
    )
    assert outcome.effect.value == "allow"


# SPEC.md "Aggregate rules (version 1)": pack -> (limit of distinct subjects per principal
# per 24 h, the effect above it, the attestation that alone releases a hold above it).
AGGREGATE = {
    "provider-redlines": (25, D, None),
    "all-lawful-purposes": (200, H, "senior_review_ref"),
    "dodd-3000-09": (None, A, None),
    "eu-ai-act-art5": (25, D, None),
}
# Facts under which every pack allows the lookup itself, so only the count decides.
LAWFUL = Facts(authority_ref=True, approvals=frozenset({"approver"}))


def subjects(n: int) -> dict[str, object]:
    return {
        "lookup": True,
        "subjects": 1,
        "distinct_subjects_1h": n,
        "distinct_subjects_24h": n,
        "deployment_distinct_subjects_1h": n,
        "deployment_distinct_subjects_24h": n,
    }


def aggregate_outcome(pack: str, n: int, facts: Facts = LAWFUL) -> Outcome:
    return compose(
        EVALUATOR, REGISTRY.select([pack]), only("targeted_surveillance"), facts, subjects(n)
    )


def test_aggregate_table_covers_the_packs() -> None:
    assert set(AGGREGATE) == set(PACKS)


@pytest.mark.parametrize("pack", PACKS)
def test_aggregate_limit(pack: str) -> None:
    limit, above, _ = AGGREGATE[pack]
    at = limit if limit is not None else 100_000
    assert aggregate_outcome(pack, at).effect.value == A
    outcome = aggregate_outcome(pack, at + 1)
    assert outcome.effect.value == above
    if above != A:  # decided as mass surveillance, naming the window and the count
        decision = from_outcome(outcome, only("targeted_surveillance"), id=None)
        (rule,) = decision.decided_by
        assert rule.category == "mass_surveillance"
        assert (rule.window, rule.scope, rule.count) == ("24h", "principal", at + 1)


def test_aggregate_hold_is_released_by_senior_review_only() -> None:
    (release,) = aggregate_outcome("all-lawful-purposes", 201).release
    assert (release.role, release.attestations) == (None, ("senior_review_ref",))
    everyone = Facts(authority_ref=True, approvals=frozenset({"approver", "commander"}))
    assert aggregate_outcome("all-lawful-purposes", 201, everyone).effect.value == H
    reviewed = Facts(authority_ref=True, senior_review_ref=True)
    assert aggregate_outcome("all-lawful-purposes", 201, reviewed).effect.value == A


@pytest.mark.parametrize("pack", ["provider-redlines", "eu-ai-act-art5"])
def test_aggregate_deny_is_released_by_nothing(pack: str) -> None:
    everything = Facts(
        authority_ref=True, senior_review_ref=True, approvals=frozenset({"approver", "commander"})
    )
    assert aggregate_outcome(pack, 26, everything).effect.value == D


def test_eu_aggregate_rule_does_not_apply_to_military_purpose() -> None:
    military = Facts(authority_ref=True, purpose="military")
    assert aggregate_outcome("eu-ai-act-art5", 26, military).effect.value == A
