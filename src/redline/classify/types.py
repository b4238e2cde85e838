"""The classifier seam: scores per category, each with the evidence that produced it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from redline.subject import Subject
from redline.taxonomy import CATEGORIES


@dataclass(frozen=True)
class Evidence:
    """Where a score came from: `source` names the rule or model window, `where` the turn/span."""

    source: str
    where: str = ""
    detail: str = ""


@dataclass(frozen=True)
class CategoryScore:
    """A calibrated probability in [0, 1] that the use belongs to `category`."""

    category: str
    score: float
    evidence: tuple[Evidence, ...] = ()


@dataclass(frozen=True)
class Thresholds:
    """Per-category decision threshold and the uncertainty band just below it."""

    threshold: Mapping[str, float]
    band: Mapping[str, float]

    def of(self, category: str) -> float:
        return self.threshold.get(category, 0.5)

    def band_of(self, category: str) -> float:
        return self.band.get(category, 0.0)


DEFAULT_THRESHOLDS = Thresholds(
    threshold=dict.fromkeys(CATEGORIES, 0.5), band=dict.fromkeys(CATEGORIES, 0.15)
)


@dataclass(frozen=True)
class Classification:
    scores: Mapping[str, CategoryScore]
    classifier: str
    thresholds: Thresholds = field(default=DEFAULT_THRESHOLDS)

    def score(self, category: str) -> float:
        cs = self.scores.get(category)
        return cs.score if cs else 0.0

    def as_dict(self, digits: int = 4) -> dict[str, float]:
        return {c: round(s.score, digits) for c, s in self.scores.items()}


class Classifier(Protocol):
    """Any backend: the rule classifier, the trained model, or both combined."""

    @property
    def version(self) -> str: ...

    def classify(self, subject: Subject) -> Classification: ...

    def classify_batch(self, subjects: Sequence[Subject]) -> list[Classification]: ...
