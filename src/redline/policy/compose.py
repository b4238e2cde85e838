"""Compose several packs over a classification: the most restrictive effect wins, and an
allow stands only when the use is not in doubt (doubt.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from redline.classify.types import Classification
from redline.policy.doubt import doubt_verdicts
from redline.policy.engine import PackEvaluator, Release, Verdict
from redline.policy.facts import Facts
from redline.policy.pack import Pack
from redline.taxonomy import Effect, check_category


@dataclass(frozen=True)
class Outcome:
    effect: Effect
    verdicts: tuple[Verdict, ...]  # every (pack, category) evaluation, for explanation
    deciding: tuple[Verdict, ...]  # those whose effect is the final effect
    release: tuple[Release, ...]  # all of these are needed to release a hold
    aggregate: Mapping[str, Any] | None = None  # the counts the packs saw, if the request counts


def _pack_verdicts(
    evaluator: PackEvaluator, pack: Pack, classification: Classification, facts: Facts
) -> list[Verdict]:
    verdicts: list[Verdict] = []
    for category in classification.scores:
        check_category(category)
        score = classification.score(category)
        threshold = pack.thresholds.get(category, classification.thresholds.of(category))
        if score >= threshold:
            verdicts.append(evaluator.evaluate(pack, category, facts))
    if not verdicts:
        verdicts.append(evaluator.evaluate(pack, "general", facts))
    return verdicts


def compose(
    evaluator: PackEvaluator,
    packs: Sequence[Pack],
    classification: Classification,
    facts: Facts,
    aggregate: Mapping[str, Any] | None = None,
) -> Outcome:
    """`aggregate`: context.aggregate for a request that counts (aggregate/tally.py); each
    pack with aggregate rules then also rules on it, and a hold or deny there decides the
    request as mass surveillance."""
    verdicts = [v for p in packs for v in _pack_verdicts(evaluator, p, classification, facts)]
    if aggregate is not None:
        for pack in packs:
            verdict = evaluator.evaluate_aggregate(pack, facts, dict(aggregate))
            if verdict is not None and verdict.effect is not Effect.ALLOW:
                verdicts.append(verdict)
    if Effect.strictest([v.effect for v in verdicts]) is Effect.ALLOW:
        # Doubt is not permission: restricted mass under every threshold still counts.
        verdicts += doubt_verdicts(evaluator, packs, classification, facts)
    effect = Effect.strictest([v.effect for v in verdicts])
    deciding = tuple(v for v in verdicts if v.effect is effect)
    release: tuple[Release, ...] = ()
    if effect is Effect.HOLD:
        release = tuple(dict.fromkeys(v.release for v in deciding if v.release is not None))
    return Outcome(effect, tuple(verdicts), deciding, release, aggregate)
