"""An independent, blind review of a labelled file, and its agreement with the file's labels.

A review line is `{"id", "line_sha256", "category", "also": [...], "sure": "high" | "low"}`:
the reviewer's labels for one corpus line, read without its labels or any model output.
`line_sha256` is the SHA-256 of the line as reviewed (`Example.raw`), so a line edited or
relabelled since is reported stale rather than silently compared.

Agreement on the decision side (allow against hold or deny under a pack) is the label
noise that a miss or false-block figure measured against these labels cannot get below.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from redline.errors import InputError
from redline.taxonomy import CATEGORIES, Effect
from redline.training.corpus import Example
from redline.training.evaluate import Decisions, Report

SURE = ("high", "low")


@dataclass(frozen=True)
class ReviewLine:
    id: str
    line_sha256: str
    category: str
    also: tuple[str, ...]
    sure: str

    @property
    def labels(self) -> frozenset[str]:
        return frozenset((self.category, *self.also))


def line_sha256(example: Example) -> str:
    return hashlib.sha256(example.raw.encode("utf-8")).hexdigest()


def _parse(line: str, where: str) -> ReviewLine:
    try:
        obj = json.loads(line)
        review = ReviewLine(
            id=str(obj["id"]),
            line_sha256=str(obj["line_sha256"]),
            category=str(obj["category"]),
            also=tuple(str(c) for c in obj.get("also") or ()),
            sure=str(obj["sure"]),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{where}: not a review line: {exc}") from exc
    unknown = sorted(review.labels - set(CATEGORIES))
    if unknown:
        raise InputError(f"{where}: unknown category {unknown[0]!r}")
    if review.sure not in SURE:
        raise InputError(f"{where}: sure is {review.sure!r}, expected one of {SURE}")
    return review


def load_review(path: Path) -> dict[str, ReviewLine]:
    """The review lines of `path` by corpus id; a bad or repeated line raises InputError."""
    out: dict[str, ReviewLine] = {}
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            review = _parse(line, f"{path}:{n}")
            if review.id in out:
                raise InputError(f"{path}:{n}: {review.id!r} is reviewed twice")
            out[review.id] = review
    return out


def _allowed(effect: str) -> bool:
    return effect == Effect.ALLOW.value


@dataclass(frozen=True)
class Agreement:
    """How a review agrees with the labels of the examples it covers (counts of lines)."""

    examples: int
    reviewed: int  # lines compared: reviewed and unchanged since
    stale: tuple[str, ...]  # reviewed, but the line has changed since
    primary: int  # same primary category
    label_sets: int  # same category and `also`
    effect: int  # same expected effect under the pack
    low: int  # lines the reviewer marked a borderline call
    split: tuple[str, ...]  # ids where the review puts the line on the other side
    agreed_allowed: frozenset[str]  # ids both sides expect allowed
    agreed_restricted: frozenset[str]  # ids both sides expect held or denied

    @property
    def agreed_ids(self) -> frozenset[str]:
        return self.agreed_allowed | self.agreed_restricted

    @property
    def side(self) -> int:
        """Lines on the same side: allow, or hold/deny."""
        return len(self.agreed_allowed) + len(self.agreed_restricted)

    def summary(self) -> str:
        """One line, the form data/review/README.md quotes."""
        return (
            f"reviewed {self.reviewed} of {self.examples}: primary category {self.primary}, "
            f"label sets {self.label_sets}, expected effect {self.effect}, "
            f"allow-vs-restricted {self.side}; {self.low} marked low"
        )


def compare(
    examples: Sequence[Example], review: Mapping[str, ReviewLine], decisions: Decisions
) -> Agreement:
    reviewed = primary = label_sets = effect = low = 0
    stale: list[str] = []
    split: list[str] = []
    allowed: set[str] = set()
    restricted: set[str] = set()
    for e in examples:
        r = review.get(e.id)
        if r is None:
            continue
        if r.line_sha256 != line_sha256(e):
            stale.append(e.id)
            continue
        reviewed += 1
        primary += r.category == e.category
        label_sets += r.labels == e.labels
        theirs, ours = decisions.expected(r.labels), decisions.expected(e.labels)
        effect += theirs == ours
        low += r.sure == "low"
        if _allowed(theirs) != _allowed(ours):
            split.append(e.id)
            continue
        (allowed if _allowed(ours) else restricted).add(e.id)
    return Agreement(
        examples=len(examples),
        reviewed=reviewed,
        stale=tuple(stale),
        primary=primary,
        label_sets=label_sets,
        effect=effect,
        low=low,
        split=tuple(split),
        agreed_allowed=frozenset(allowed),
        agreed_restricted=frozenset(restricted),
    )


@dataclass(frozen=True)
class AgreedRates:
    """A report's miss and false-block rates on the lines the review agrees on."""

    restricted: int
    misses: int
    allowed: int
    false_blocks: int

    @property
    def miss_rate(self) -> float:
        return self.misses / self.restricted if self.restricted else 0.0

    @property
    def false_block_rate(self) -> float:
        return self.false_blocks / self.allowed if self.allowed else 0.0


def agreed_rates(report: Report, agreement: Agreement) -> AgreedRates:
    return AgreedRates(
        restricted=len(agreement.agreed_restricted),
        misses=len(agreement.agreed_restricted.intersection(report.misses)),
        allowed=len(agreement.agreed_allowed),
        false_blocks=len(agreement.agreed_allowed.intersection(report.false_blocks)),
    )
