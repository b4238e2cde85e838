"""The trained backend: sentence embeddings -> linear head -> calibrated scores per category.

Each subject is read as units (every turn, tool call and decoded blob, plus the whole of
it joined) embedded over overlapping windows; a category's one-vs-rest score is its
strongest window, calibrated. A restricted category's score is then gated: the calibrated
probability that the use is restricted at all (the softmax gate over the primary unit,
head.py) times the category's share of the strongest restricted score, so whether anything
restricted fires is one well-calibrated decision and which restricted category it is comes
from the per-category scorers. Where an exact tool rule fires (tools.py) the score is the
larger of the two. Every score carries its evidence: the window and unit, or the rule.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from redline.classify.features import Embedded, EmbedderLike, WindowRef, embed_subjects
from redline.classify.head import ADAPTER_FILE, WEIGHTS_DIR, Head, adapter_sha256, load_head
from redline.classify.segments import tool_uses
from redline.classify.tools import tool_rule_hits
from redline.classify.types import CategoryScore, Classification, Evidence
from redline.errors import ClassifierError, RedlineError
from redline.subject import Subject
from redline.taxonomy import CATEGORIES

SNIPPET = 80
# subject_logits: raw logits at the strongest window (n, k), that window's row (n, k), the
# raw gate log-odds (n,), and whether the subject had any window (n,).
SubjectLogits = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


class ModelClassifier:
    def __init__(self, embedder: EmbedderLike, head: Head, *, tool_rules: bool = True) -> None:
        missing = [c for c in CATEGORIES if c not in head.categories]
        if missing:
            raise ClassifierError(f"the classifier head lacks categories {missing}")
        self.embedder = embedder
        self.head = head
        self.primary_only = head.meta.get("units") == "primary"
        # Heads before `gate_units` read the gate on the ~60-word runs too.
        self.gate_parts = head.meta.get("gate_units", "parts") == "parts"
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
            embedded = embed_subjects(self.embedder, subjects, primary_only=self.primary_only)
        except RedlineError:
            raise
        except Exception as exc:  # the runtime failed: the caller fails closed
            raise ClassifierError(f"the embedding model failed: {exc}") from exc
        return self.scores_from(embedded, subjects)

    def window_probabilities(self, embedded: Embedded) -> np.ndarray:
        texts = [ref.text for ref in embedded.refs]
        return self.head.calibrate(self.head.logits(embedded.vectors, texts))

    def subject_logits(self, embedded: Embedded) -> SubjectLogits:
        """Per subject: the raw one-vs-rest logits at the strongest window (n, k), that
        window's row per category (n, k; -1 if none), the raw gate log-odds at the strongest
        window of the primary unit and of any decoded text, or of its ~60-word runs too where
        the head says so (so a request at the end of a long input is not drowned by its
        window) (n,), and whether
        the subject had any window."""
        n, k = embedded.n_subjects, len(self.head.categories)
        texts = [ref.text for ref in embedded.refs]
        z = self.head.window_logits(embedded.vectors, texts)
        best = np.full((n, k), -np.inf, dtype=np.float32)
        rows = np.full((n, k), -1, dtype=np.int64)
        gate = np.full(n, -np.inf, dtype=np.float32)
        for row, ref in enumerate(embedded.refs):
            # Hidden (decoded) text is scored on its own, for the gate too, even when only
            # the whole is read otherwise: it is what an obfuscating request wants unseen,
            # so it counts like the same text sent plainly (issue 18).
            hidden = ref.unit.decoded
            if ref.primary or hidden or (self.gate_parts and ref.unit.part):
                gate[ref.subject] = max(gate[ref.subject], z[row, k])
            if ref.primary or hidden or not self.primary_only:
                better = z[row, :k] > best[ref.subject]
                best[ref.subject, better] = z[row, :k][better]
                rows[ref.subject, better] = row
        present = rows[:, 0] >= 0
        gate[~np.isfinite(gate)] = 0.0
        return best, rows, gate, present

    def gated_scores(self, z: np.ndarray, gate: np.ndarray) -> np.ndarray:
        """Subject-level raw logits and gate -> calibrated, gated scores (n, k)."""
        p = self.head.calibrate(z)
        restricted = np.array([c in self.head.restricted for c in self.head.categories])
        if restricted.any():
            top = p[:, restricted].max(axis=1, keepdims=True)
            share = np.where(top > 0, p[:, restricted] / np.maximum(top, 1e-12), 0.0)
            p[:, restricted] = self.head.calibrate_gate(gate)[:, None] * share
        return p

    def scores_from(self, embedded: Embedded, subjects: Sequence[Subject]) -> list[Classification]:
        return self.scores_from_logits(self.subject_logits(embedded), embedded.refs, subjects)

    def scores_from_logits(
        self,
        logits: SubjectLogits,
        refs: Sequence[WindowRef],
        subjects: Sequence[Subject],
    ) -> list[Classification]:
        """Classifications from `subject_logits`' result, which depends on the head's
        scorers and gate but not on its calibration: training scores every calibration of
        one head without computing the windows' features again."""
        z, rows, gate, present = logits
        z = np.where(present[:, None], z, 0.0).astype(np.float32)
        probs = np.where(present[:, None], self.gated_scores(z, gate), 0.0)
        return [
            self._classification(subject, probs[i], rows[i], refs)
            for i, subject in enumerate(subjects)
        ]

    def _classification(
        self,
        subject: Subject,
        probs: np.ndarray,
        rows: np.ndarray,
        refs: Sequence[WindowRef],
    ) -> Classification:
        scores: dict[str, CategoryScore] = {}
        for k, category in enumerate(self.head.categories):
            if category not in CATEGORIES:
                continue
            if rows[k] < 0:
                scores[category] = CategoryScore(category, 0.0)
                continue
            ref = refs[int(rows[k])]
            text = ref.text
            snippet = text[:SNIPPET] + ("…" if len(text) > SNIPPET else "")
            evidence = Evidence("model", ref.describe(), snippet)
            scores[category] = CategoryScore(category, float(probs[k]), (evidence,))
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


def default_threads() -> int:
    """Threads inside one window's inference: REDLINE_CLASSIFIER_THREADS, else two where
    there are two cores. One request then takes both cores, with bit-identical vectors, and
    concurrent requests share them (docs/measurements.md)."""
    configured = os.environ.get("REDLINE_CLASSIFIER_THREADS")
    if configured:
        return max(1, int(configured))
    return max(1, min(2, os.cpu_count() or 1))


def default_workers() -> int:
    """Windows embedded concurrently: REDLINE_CLASSIFIER_WORKERS, else the cores left over
    by `default_threads()` per window (max 4)."""
    configured = os.environ.get("REDLINE_CLASSIFIER_WORKERS")
    if configured:
        return max(1, int(configured))
    return max(1, min(4, (os.cpu_count() or 1) // default_threads()))


def check_adapter(model_meta: Mapping[str, Any], adapter: Path, head: Head | None = None) -> None:
    """The built model must carry the adapter shipped beside the head, and the head must have
    been trained on it: a head read through another embedding scores nonsense with full
    confidence."""
    built = model_meta.get("adapter")
    got = built.get("sha256") if isinstance(built, dict) else None
    expected = adapter_sha256(adapter)
    trained = head.meta.get("adapter_sha256", expected) if head is not None else expected
    if trained != expected:
        raise ClassifierError(
            f"the classifier head was trained with adapter {trained or 'none'}, but "
            f"{adapter} is {expected or 'missing'}: run `redline train`"
        )
    if got != expected:
        raise ClassifierError(
            f"the embedding model was built with adapter {got or 'none'}, but the classifier "
            f"ships adapter {expected or 'none'} ({adapter}): run `redline model build`"
        )


def load_model_classifier(
    model_dir: Path | None = None, weights_dir: Path = WEIGHTS_DIR
) -> ModelClassifier:
    """The trained classifier, or ClassifierError when the ONNX model or the head is missing."""
    head = load_head(weights_dir)
    try:
        from redline.classify.embed import default_model_dir, load_embedder, read_meta
    except ImportError as exc:
        raise ClassifierError(f"the embedding runtime is not available: {exc}") from exc
    try:
        directory = default_model_dir() if model_dir is None else model_dir
        meta = read_meta(directory)
        check_adapter(meta, weights_dir / ADAPTER_FILE.name, head)
        embedder = load_embedder(
            directory, threads=default_threads(), workers=default_workers(), meta=meta
        )
    except ClassifierError:
        raise
    except Exception as exc:  # a missing or unreadable model file
        raise ClassifierError(
            f"the embedding model is not built ({exc}): run `redline model build`"
        ) from exc
    return ModelClassifier(embedder, head)
