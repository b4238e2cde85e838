"""Honest measurement of a classifier on a labelled set, under a policy pack.

- Per category: precision, recall and F1, where a category is predicted when its score
  reaches the classification's own threshold for it; macro-F1 over the categories present.
- Decisions: the allow/hold/deny the pack gives the classification (compose(), no
  attestations), against the expected effect: what the pack gives a one-hot
  classification of the example's labels (its category and its `also` labels).
- False-block rate: the share of examples expected allow that were decided hold or deny.
- Miss rate: the share of examples expected hold or deny that were decided allow.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from redline.classify.types import CategoryScore, Classification, Classifier
from redline.policy.compose import compose
from redline.policy.engine import PackEvaluator
from redline.policy.facts import Facts
from redline.policy.pack import Pack
from redline.taxonomy import CATEGORIES, Effect
from redline.training.corpus import Example

EFFECTS = ("allow", "hold", "deny")
BATCH = 64


def one_hot(labels: frozenset[str]) -> Classification:
    scores = {c: CategoryScore(c, 1.0 if c in labels else 0.0) for c in CATEGORIES}
    return Classification(scores=scores, classifier="labels")


class Decisions:
    """compose() over one set of packs with no attestations, memoised on the label set."""

    def __init__(self, packs: Sequence[Pack]) -> None:
        self.packs = list(packs)
        self.evaluator = PackEvaluator()
        self._expected: dict[frozenset[str], str] = {}

    def decide(self, classification: Classification) -> str:
        return compose(self.evaluator, self.packs, classification, Facts()).effect.value

    def expected(self, labels: frozenset[str]) -> str:
        if labels not in self._expected:
            self._expected[labels] = self.decide(one_hot(labels))
        return self._expected[labels]


@dataclass
class Report:
    backend: str
    pack: str
    n: int
    per_category: dict[str, dict[str, float]]
    macro_f1: float
    confusion: dict[str, dict[str, int]]  # expected -> decided -> count
    miss_rate: float
    false_block_rate: float
    misses: list[str] = field(default_factory=list)
    false_blocks: list[str] = field(default_factory=list)
    data: str = ""
    review: dict[str, Any] = field(default_factory=dict)  # set by `redline eval --review`

    def as_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "pack": self.pack,
            "data": self.data,
            "n": self.n,
            "macro_f1": round(self.macro_f1, 4),
            "miss_rate": round(self.miss_rate, 4),
            "false_block_rate": round(self.false_block_rate, 4),
            "per_category": self.per_category,
            "confusion": self.confusion,
            "misses": self.misses,
            "false_blocks": self.false_blocks,
            **({"review": self.review} if self.review else {}),
        }


def classify_all(classifier: Classifier, examples: Sequence[Example]) -> list[Classification]:
    out: list[Classification] = []
    for start in range(0, len(examples), BATCH):
        chunk = examples[start : start + BATCH]
        out += classifier.classify_batch([e.subject for e in chunk])
    return out


def per_category(
    examples: Sequence[Example], classifications: Sequence[Classification]
) -> tuple[dict[str, dict[str, float]], float]:
    table: dict[str, dict[str, float]] = {}
    f1s: list[float] = []
    for c in CATEGORIES:
        tp = fp = fn = 0
        for e, cl in zip(examples, classifications, strict=True):
            predicted = cl.score(c) >= cl.thresholds.of(c)
            actual = c in e.labels
            tp += predicted and actual
            fp += predicted and not actual
            fn += actual and not predicted
        support = tp + fn
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        table[c] = {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
            "support": support,
        }
        if support:
            f1s.append(f1)
    return table, (sum(f1s) / len(f1s) if f1s else 0.0)


def score(
    examples: Sequence[Example],
    classifications: Sequence[Classification],
    decisions: Decisions,
    backend: str = "",
    pack: str = "",
) -> Report:
    table, macro = per_category(examples, classifications)
    confusion = {a: dict.fromkeys(EFFECTS, 0) for a in EFFECTS}
    misses: list[str] = []
    false_blocks: list[str] = []
    n_allow = n_restricted = 0
    for e, cl in zip(examples, classifications, strict=True):
        expected = decisions.expected(e.labels)
        decided = decisions.decide(cl)
        confusion[expected][decided] += 1
        if expected == Effect.ALLOW.value:
            n_allow += 1
            if decided != Effect.ALLOW.value:
                false_blocks.append(e.id)
        else:
            n_restricted += 1
            if decided == Effect.ALLOW.value:
                misses.append(e.id)
    return Report(
        backend=backend,
        pack=pack,
        n=len(examples),
        per_category=table,
        macro_f1=macro,
        confusion=confusion,
        miss_rate=len(misses) / n_restricted if n_restricted else 0.0,
        false_block_rate=len(false_blocks) / n_allow if n_allow else 0.0,
        misses=misses,
        false_blocks=false_blocks,
    )


def evaluate(
    classifier: Classifier, examples: Sequence[Example], packs: Sequence[Pack], pack_name: str
) -> Report:
    classifications = classify_all(classifier, examples)
    return score(examples, classifications, Decisions(packs), classifier.version, pack_name)


def write_png(report: Report, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = [[report.confusion[a][d] for d in EFFECTS] for a in EFFECTS]
    fig, ax = plt.subplots(figsize=(4.8, 4.2), dpi=120)
    ax.imshow(grid, cmap="Blues")
    ax.set_xticks(range(3), EFFECTS)
    ax.set_yticks(range(3), EFFECTS)
    ax.set_xlabel("decided")
    ax.set_ylabel("expected")
    top = max(max(row) for row in grid) or 1
    for i, row in enumerate(grid):
        for j, v in enumerate(row):
            ax.text(j, i, str(v), ha="center", va="center",
                    color="white" if v > top / 2 else "black")  # fmt: skip
    ax.set_title(
        f"{report.pack}: miss {report.miss_rate:.1%}, false-block {report.false_block_rate:.1%}",
        fontsize=9,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def write_json(report: Report, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report.as_dict(), indent=2) + "\n", encoding="utf-8")
