"""The trained backend: sentence embeddings -> linear head -> calibrated scores per category.

Each subject is read as units (every turn, tool call and decoded blob, plus the whole of
it joined) embedded over overlapping windows; a category's score is its strongest window,
calibrated. Where an exact tool rule fires (tools.py) the score is the larger of the two.
Every score carries the evidence that produced it: the window and unit, or the rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from redline.classify.features import Embedded, EmbedderLike, WindowRef, embed_subjects
from redline.classify.head import WEIGHTS_DIR, Head, load_head
from redline.classify.segments import tool_uses
from redline.classify.tools import tool_rule_hits
from redline.classify.types import CategoryScore, Classification, Evidence
from redline.errors import ClassifierError, RedlineError
from redline.subject import Subject
from redline.taxonomy import CATEGORIES

SNIPPET = 80


class ModelClassifier:
    def __init__(self, embedder: EmbedderLike, head: Head, *, tool_rules: bool = True) -> None:
        missing = [c for c in CATEGORIES if c not in head.categories]
        if missing:
            raise ClassifierError(f"the classifier head lacks categories {missing}")
        self.embedder = embedder
        self.head = head
        self.primary_only = head.meta.get("units") == "primary"
        self.tool_rules = tool_rules
        self._version = f"model:{embedder.model_version[:12]}+head:{head.sha256[:12]}"

    @property
    def version(self) -> str:
        return self._version

    def classify(self, subject: Subject) -> Classification:
        return self.classify_batch([subject])[0]

    def classify_batch(self, subjects: Sequence[Subject]) -> list[Classification]:
        if not subjects:
            return []
        try:
            embedded = embed_subjects(self.embedder, subjects)
        except RedlineError:
            raise
        except Exception as exc:  # the runtime failed: the caller fails closed
            raise ClassifierError(f"the embedding model failed: {exc}") from exc
        return self.scores_from(embedded, subjects)

    def window_probabilities(self, embedded: Embedded) -> np.ndarray:
        texts = [ref.text for ref in embedded.refs]
        return self.head.calibrate(self.head.logits(embedded.vectors, texts))

    def scores_from(self, embedded: Embedded, subjects: Sequence[Subject]) -> list[Classification]:
        probs = self.window_probabilities(embedded)
        by_subject: list[list[int]] = [[] for _ in subjects]
        for row, ref in enumerate(embedded.refs):
            if ref.primary or not self.primary_only:
                by_subject[ref.subject].append(row)
        return [
            self._classification(subject, probs[rows], [embedded.refs[r] for r in rows])
            for subject, rows in zip(subjects, by_subject, strict=True)
        ]

    def _classification(
        self, subject: Subject, probs: np.ndarray, refs: list[WindowRef]
    ) -> Classification:
        scores: dict[str, CategoryScore] = {}
        for k, category in enumerate(self.head.categories):
            if category not in CATEGORIES:
                continue
            if not refs:
                scores[category] = CategoryScore(category, 0.0)
                continue
            best = int(np.argmax(probs[:, k]))
            ref = refs[best]
            text = ref.text
            snippet = text[:SNIPPET] + ("…" if len(text) > SNIPPET else "")
            evidence = Evidence("model", ref.describe(), snippet)
            scores[category] = CategoryScore(category, float(probs[best, k]), (evidence,))
        for use in tool_uses(subject) if self.tool_rules else ():
            for hit in tool_rule_hits(use):
                # An exact rule is always named; the stronger evidence comes first.
                current = scores[hit.category]
                ev = Evidence(f"rule:{hit.rule}", use.where, hit.detail)
                combined = (ev, *current.evidence)
                if hit.score < current.score:
                    combined = (*current.evidence, ev)
                top = max(hit.score, current.score)
                scores[hit.category] = CategoryScore(hit.category, top, combined)
        ordered = {c: scores[c] for c in CATEGORIES}
        return Classification(ordered, self._version, self.head.thresholds)


def load_model_classifier(
    model_dir: Path | None = None, weights_dir: Path = WEIGHTS_DIR
) -> ModelClassifier:
    """The trained classifier, or ClassifierError when the ONNX model or the head is missing."""
    head = load_head(weights_dir)
    try:
        from redline.classify.embed import load_embedder
    except ImportError as exc:
        raise ClassifierError(f"the embedding runtime is not available: {exc}") from exc
    try:
        embedder = load_embedder(model_dir)
    except ClassifierError:
        raise
    except Exception as exc:  # a missing or unreadable model file
        raise ClassifierError(
            f"the embedding model is not built ({exc}): run `redline model build`"
        ) from exc
    return ModelClassifier(embedder, head)
