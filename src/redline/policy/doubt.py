"""Doubt is not permission: restricted probability spread over categories counts as a whole.

A use is allowed only when the probability that it is restricted at all, summed over the
categories the composed packs would hold or deny, is under the classification's
`allow_below` limit (chosen on held-out data in training). At or above it, and with no
category past its own threshold, the use is held, naming every candidate category and the
effect each pack would give it; it is denied when every candidate would be denied.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from redline.classify.types import Classification
from redline.policy.engine import PackEvaluator, Release, Verdict
from redline.policy.facts import Facts
from redline.policy.pack import Pack, Rule
from redline.taxonomy import Effect

# A category is named as a candidate when it holds at least this share of the mass, so
# the residue of a dozen near-zero scores does not crowd the explanation.
CANDIDATE_SHARE = 0.1


@dataclass(frozen=True)
class Candidate:
    """A category some pack would hold or deny, its score, and those packs' verdicts."""

    category: str
    score: float
    verdicts: tuple[Verdict, ...]

    @property
    def effect(self) -> Effect:
        return Effect.strictest([v.effect for v in self.verdicts])

    def describe(self) -> str:
        effects = ", ".join(f"{v.pack}: {v.effect.value}" for v in self.verdicts)
        return f"{self.category} {self.score:.2f} ({effects})"


def restricting(
    evaluator: PackEvaluator, packs: Sequence[Pack], classification: Classification, facts: Facts
) -> list[Candidate]:
    """Every category with a score that some pack would hold or deny, strongest first."""
    out = []
    for category in classification.scores:
        score = classification.score(category)
        if score <= 0.0:
            continue
        verdicts = tuple(
            v
            for p in packs
            if (v := evaluator.evaluate(p, category, facts)).effect is not Effect.ALLOW
        )
        if verdicts:
            out.append(Candidate(category, score, verdicts))
    return sorted(out, key=lambda c: -c.score)


def restricted_mass(candidates: Sequence[Candidate]) -> float:
    return min(1.0, sum(c.score for c in candidates))


def doubt_limit(
    packs: Sequence[Pack], classification: Classification, candidates: Sequence[Candidate]
) -> float:
    """The classification's limit, lowered where a pack lowers a candidate's threshold (by
    as much as it lowers it): a pack that asks for a category at a lower score is in doubt
    about it at a lower score too."""
    thresholds = classification.thresholds
    limit = thresholds.doubt_limit()
    lowered = [
        limit - (thresholds.of(c.category) - p.thresholds[c.category])
        for p in packs
        for c in candidates
        if p.thresholds.get(c.category, 1.0) < thresholds.of(c.category)
    ]
    return max(0.0, min([limit, *lowered]))


def _approval_role(candidates: Sequence[Candidate]) -> str:
    return "commander" if any(c.category == "use_of_force" for c in candidates) else "approver"


def doubt_verdicts(
    evaluator: PackEvaluator, packs: Sequence[Pack], classification: Classification, facts: Facts
) -> list[Verdict]:
    """The verdicts of a use in doubt (none where the restricted mass is under the limit):
    one per candidate category and pack that would hold or deny it."""
    candidates = restricting(evaluator, packs, classification, facts)
    mass = restricted_mass(candidates)
    limit = doubt_limit(packs, classification, candidates)
    if not candidates or mass < limit:
        return []
    named = [c for c in candidates if c.score >= CANDIDATE_SHARE * mass] or candidates[:1]
    effect = Effect.DENY if all(c.effect is Effect.DENY for c in named) else Effect.HOLD
    reason = (
        f"The probability that this use is restricted, {mass:.2f} summed over the categories "
        f"these packs hold or deny, is at or above {limit:.2f}, the limit under which a use "
        f"is allowed, and no category reached its own threshold. Candidates: "
        + "; ".join(c.describe() for c in named)
        + (". Every candidate would be denied." if effect is Effect.DENY else ": a human decides.")
    )
    release = Release(_approval_role(named), ()) if effect is Effect.HOLD else None
    return [
        Verdict(
            v.pack,
            c.category,
            effect,
            (Rule(v.pack, f"{v.pack}.doubt-{c.category}", "forbid", reason, c.category),),
            release,
            note="doubt",
        )
        for c in named
        for v in c.verdicts
    ]
