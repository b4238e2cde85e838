"""Classifications made by hand, for policy tests that need no classifier."""

from __future__ import annotations

from redline.classify.types import CategoryScore, Classification
from redline.taxonomy import CATEGORIES


def only(category: str, score: float = 0.95) -> Classification:
    """`category` at `score`, every other category at zero."""
    return Classification(
        scores={c: CategoryScore(c, score if c == category else 0.0) for c in CATEGORIES},
        classifier="table",
    )
