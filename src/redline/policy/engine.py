"""Evaluate one pack on one category, and derive holds.

Cedar has no obligations, so a hold is computed: the use is denied under the facts as
they are, and permitted in a hypothetical world with an approval by role R and/or the
missing attestations. The cheapest such world is what would release the hold.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import cedarpy

from redline.errors import EvaluationError
from redline.policy.bands import band_key
from redline.policy.facts import Facts
from redline.policy.pack import Pack, Rule
from redline.taxonomy import APPROVER_ROLES, ATTESTATIONS, Effect


@dataclass(frozen=True)
class Release:
    """What would release a hold: an approval by `role` and/or these attestations."""

    role: str | None
    attestations: tuple[str, ...]

    @property
    def cost(self) -> int:
        return len(self.attestations) + (self.role is not None)


@dataclass(frozen=True)
class Verdict:
    pack: str
    category: str
    effect: Effect
    rules: tuple[Rule, ...]
    release: Release | None = None
    note: str = ""


def _releases() -> list[Release]:
    """Every hypothetical release, cheapest first."""
    options = []
    for n in range(len(ATTESTATIONS) + 1):
        for atts in combinations(ATTESTATIONS, n):
            options.append(Release(None, atts))
            options += [Release(role, atts) for role in APPROVER_ROLES]
    return sorted([o for o in options if o.cost > 0], key=lambda o: o.cost)


_RELEASES = _releases()
_PRINCIPAL = 'Redline::Principal::"p"'
_USE = 'Redline::Action::"use"'
_AGGREGATE = 'Redline::Action::"aggregate"'
_SUBJECTS = 'Redline::Subjects::"distinct"'
#: The category an aggregate rule decides a request as (SPEC.md: aggregate rules).
AGGREGATE_CATEGORY = "mass_surveillance"


@dataclass(frozen=True)
class Question:
    """One Cedar question: the action, the resource, and the aggregate counts if any."""

    action: str
    resource: str
    aggregate: tuple[tuple[str, Any], ...] | None = None

    def context(self, facts: Facts) -> dict[str, Any]:
        context = facts.cedar_context()
        if self.aggregate is not None:
            context["aggregate"] = dict(self.aggregate)
        return context


class PackEvaluator:
    """Memoised Cedar evaluation: packs are immutable and facts are discrete, so a cache
    keyed on (pack, category, facts) is exact."""

    def __init__(self) -> None:
        self._cache: dict[tuple[Any, ...], Verdict] = {}

    def evaluate(self, pack: Pack, category: str, facts: Facts) -> Verdict:
        key = (pack.name, pack.sha256, category, facts)
        verdict = self._cache.get(key)
        if verdict is None:
            question = Question(_USE, f'Redline::Category::"{category}"')
            verdict = self._decide(pack, category, facts, question)
            self._remember(key, verdict)
        return verdict

    def evaluate_aggregate(
        self, pack: Pack, facts: Facts, aggregate: dict[str, Any]
    ) -> Verdict | None:
        """The pack's verdict on the principal's distinct subjects (action `aggregate`);
        None for a pack with no rule on them. Memoised on the band of each count."""
        if not pack.rules_on_aggregates:
            return None
        key = (
            pack.name,
            pack.sha256,
            "\x00aggregate",
            facts,
            band_key(pack.aggregate_bands, aggregate),
        )
        verdict = self._cache.get(key)
        if verdict is None:
            question = Question(_AGGREGATE, _SUBJECTS, tuple(sorted(aggregate.items())))
            verdict = self._decide(pack, AGGREGATE_CATEGORY, facts, question)
            self._remember(key, verdict)
        return verdict

    def _remember(self, key: Any, verdict: Verdict) -> None:
        if len(self._cache) > 100_000:
            self._cache.clear()
        self._cache[key] = verdict

    def _authorize(self, pack: Pack, question: Question, facts: Facts) -> tuple[bool, list[Rule]]:
        request = {
            "principal": _PRINCIPAL,
            "action": question.action,
            "resource": question.resource,
            "context": question.context(facts),
        }
        entities = [
            {
                "uid": {"type": "Redline::Principal", "id": "p"},
                "attrs": {"roles": sorted(facts.roles)},
                "parents": [],
            }
        ]
        try:
            result = cedarpy.is_authorized(request, pack.policy_set, json.dumps(entities))
        except Exception as exc:
            raise EvaluationError(f"Cedar failed on pack {pack.name}: {exc}") from exc
        errors = result.diagnostics.errors
        if errors:
            raise EvaluationError(f"Cedar reported errors on pack {pack.name}: {errors}")
        rules = [pack.rules[pid] for pid in result.diagnostics.reasons if pid in pack.rules]
        return result.allowed, rules

    def _decide(self, pack: Pack, category: str, facts: Facts, question: Question) -> Verdict:
        allowed, rules = self._authorize(pack, question, facts)
        if allowed:
            return Verdict(pack.name, category, Effect.ALLOW, tuple(rules))
        if not rules:
            # Cedar's default deny: no permit applied. A pack that forgets a case denies it.
            default = Rule(
                pack.name,
                f"{pack.name}.no-permit",
                "forbid",
                "No rule of this pack permits this use (Cedar default deny).",
                category,
            )
            return Verdict(pack.name, category, Effect.DENY, (default,))
        for release in _RELEASES:
            hypothetical = facts.with_release(release.attestations, release.role)
            if hypothetical == facts:
                continue
            if self._authorize(pack, question, hypothetical)[0]:
                missing = tuple(a for a in release.attestations if not getattr(facts, a))
                return Verdict(
                    pack.name, category, Effect.HOLD, tuple(rules), Release(release.role, missing)
                )
        return Verdict(pack.name, category, Effect.DENY, tuple(rules))
