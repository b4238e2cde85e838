"""The classifier seam: scores per category, each with the evidence that produced it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from redline.subject import Subject
from redline.taxonomy import CATEGORIES

# No threshold is raised past this: an answer that a category is near certain of still fires.
ANSWER_CEILING = 0.95


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
    """Per-category decision threshold and the uncertainty band just below it, and the
    restricted mass at or above which a use is never allowed (policy/doubt.py).

    `answer_shift`: how far the text a model answered is read above a request's limits
    (`for_answers`), chosen in training on held-out answer-like text."""

    threshold: Mapping[str, float]
    band: Mapping[str, float]
    allow_below: float | None = None
    answer_shift: float = 0.0

    def for_answers(self) -> Thresholds:
        """The thresholds for a model's text answer: the doubt limit and the threshold of
        every category with a band (the restricted ones) raised by `answer_shift`. Only
        Redline's own answer path asks for them; no client can."""
        if self.answer_shift <= 0.0:
            return self

        def up(t: float) -> float:
            return min(ANSWER_CEILING, t + self.answer_shift)

        return Thresholds(
            {c: up(t) if self.band_of(c) > 0 else t for c, t in self.threshold.items()},
            self.band,
            None if self.allow_below is None else up(self.allow_below),
        )

    def of(self, category: str) -> float:
        return self.threshold.get(category, 0.5)

    def band_of(self, category: str) -> float:
        return self.band.get(category, 0.0)

    def doubt_limit(self) -> float:
        """`allow_below`, else the lowest edge of a category's band (a head trained before
        the limit was chosen on its own: there the band's edge is the held-out operating
        point of the restricted categories)."""
        if self.allow_below is not None:
            return self.allow_below
        edges = [self.of(c) - b for c, b in self.band.items() if b > 0]
        return min(edges, default=min(self.threshold.values(), default=0.5))


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

    def as_answer(self) -> Classification:
        """Read as a model's answer, with the answer thresholds (Thresholds.for_answers); the
        classifier's name says so. Unchanged where the thresholds carry no shift."""
        thresholds = self.thresholds.for_answers()
        if thresholds is self.thresholds:
            return self
        name = f"{self.classifier} (read as an answer)"
        return replace(self, thresholds=thresholds, classifier=name)


class Classifier(Protocol):
    """Any backend: the rule classifier, the trained model, or both combined."""

    @property
    def version(self) -> str: ...

    def classify(self, subject: Subject) -> Classification: ...

    def classify_batch(self, subjects: Sequence[Subject]) -> list[Classification]: ...
