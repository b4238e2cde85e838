"""Decide the same traffic under two compositions: classify once, evaluate twice.

The classifier is the expensive and the uncertain part, so each request is classified
once and both compositions see the very same scores: every difference in the report is
the policies' doing, not the classifier's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from redline.classify.types import Classifier
from redline.policy.compose import compose
from redline.policy.diff import Side, packs_json, side, side_json
from redline.policy.engine import PackEvaluator
from redline.policy.pack import Pack
from redline.subject import DecideRequest
from redline.taxonomy import Effect
from redline.trust import Trust, facts_from

EFFECTS = tuple(e.value for e in Effect)
SHOWN_SCORE = 0.05  # categories below this are left out of a changed line's listing


@dataclass(frozen=True)
class Item:
    """One request to re-decide, and where it came from (a line number, a ledger index)."""

    ref: int
    request: DecideRequest


@dataclass(frozen=True)
class Compared:
    ref: int
    id: str | int | None
    categories: dict[str, float]
    a: Side
    b: Side

    @property
    def changed(self) -> bool:
        return self.a.effect != self.b.effect


@dataclass
class ShiftReport:
    a: tuple[Pack, ...]
    b: tuple[Pack, ...]
    shift: Counter[tuple[str, str]] = field(default_factory=Counter)  # (a, b) -> lines
    changed: list[Compared] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)  # one message per unreadable input

    def add(self, compared: Compared) -> None:
        self.shift[(compared.a.effect, compared.b.effect)] += 1
        if compared.changed:
            self.changed.append(compared)

    @property
    def total(self) -> int:
        return sum(self.shift.values())

    def count(self, which: str, effect: str) -> int:
        index = 0 if which == "a" else 1
        return sum(n for pair, n in self.shift.items() if pair[index] == effect)


def compare_batch(
    classifier: Classifier,
    a: Sequence[Pack],
    b: Sequence[Pack],
    items: Sequence[Item],
    trust: Trust,
    evaluator: PackEvaluator,
) -> list[Compared]:
    """One classify_batch call for the batch, then both compositions on each result."""
    classifications = classifier.classify_batch([it.request.subject() for it in items])
    out = []
    for item, classification in zip(items, classifications, strict=True):
        facts, _ = facts_from(item.request.context, trust)
        left = side(compose(evaluator, a, classification, facts))
        right = side(compose(evaluator, b, classification, facts))
        scores = {k: v for k, v in classification.as_dict().items() if v >= SHOWN_SCORE}
        out.append(Compared(item.ref, item.request.id, scores, left, right))
    return out


def batches(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    batch: list[Item] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def simulate(
    classifier: Classifier,
    a: Sequence[Pack],
    b: Sequence[Pack],
    items: Iterable[Item],
    trust: Trust,
    *,
    batch_size: int = 256,
    advance: Callable[[int], None] = lambda n: None,
) -> ShiftReport:
    report = ShiftReport(tuple(a), tuple(b))
    evaluator = PackEvaluator()
    for batch in batches(items, batch_size):
        for compared in compare_batch(classifier, a, b, batch, trust, evaluator):
            report.add(compared)
        advance(len(batch))
    return report


def shift_json(report: ShiftReport) -> dict[str, Any]:
    return {
        "a": packs_json(report.a),
        "b": packs_json(report.b),
        "decided": report.total,
        "invalid": report.invalid,
        "counts": {w: {e: report.count(w, e) for e in EFFECTS} for w in ("a", "b")},
        "shift": [
            {"a": x, "b": y, "count": report.shift[(x, y)]}
            for x in EFFECTS
            for y in EFFECTS
            if report.shift[(x, y)]
        ],
        "changed": [
            {
                "ref": c.ref,
                "id": c.id,
                "categories": c.categories,
                "a": side_json(c.a),
                "b": side_json(c.b),
            }
            for c in report.changed
        ],
    }
