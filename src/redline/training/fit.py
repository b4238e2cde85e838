"""Fit the head's parts on training examples: vocabularies, one-vs-rest scorers, the gate,
and the Platt calibrations and thresholds chosen on held-out scores."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from redline.classify.features import (
    Embedded,
    EmbedderLike,
    Lexicon,
    WindowRef,
    embed_subjects,
    fit_lexicon,
)
from redline.taxonomy import CATEGORIES, RESTRICTED_CATEGORIES
from redline.training.adapter import load_adapter, softmax_gate
from redline.training.config import Progress, TrainConfig
from redline.training.corpus import Example

EMBED_BATCH = 128


Linear = tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]


@dataclass(frozen=True)
class Encoder:
    """An embedding model and the adapter merged into it (None: the plain model)."""

    embedder: EmbedderLike
    adapter: Path | None = None


@dataclass(frozen=True)
class Parts:
    """What is fitted on training examples: the vocabularies, the one-vs-rest scorers (by C)
    and the gates (by C, and "adapter" for the adapter's own softmax layer)."""

    lexicons: tuple[Lexicon, ...]
    linears: dict[float, Linear]
    gates: dict[float | str, Linear]


@dataclass(frozen=True)
class HeldOut:
    """One fold: the parts fitted without it, and its examples as its encoder embeds them."""

    encoder: Encoder
    parts: Parts
    examples: list[Example]
    emb: Embedded


def embed_many(
    embedder: EmbedderLike, examples: Sequence[Example], progress: Progress | None = None
) -> Embedded:
    """Embed in batches; the result is indexed by position in `examples`."""
    vectors: list[npt.NDArray[np.float32]] = []
    refs: list[WindowRef] = []
    for start in range(0, len(examples), EMBED_BATCH):
        chunk = examples[start : start + EMBED_BATCH]
        part = embed_subjects(embedder, [e.subject for e in chunk])
        vectors.append(part.vectors)
        refs += [replace(r, subject=r.subject + start) for r in part.refs]
        if progress:
            progress(f"embedded {min(start + EMBED_BATCH, len(examples))}/{len(examples)}")
    return Embedded(np.concatenate(vectors), tuple(refs), len(examples))


def subset(emb: Embedded, idx: Sequence[int]) -> Embedded:
    """The windows of the subjects at positions `idx`, renumbered 0..len(idx)-1."""
    pos = {old: new for new, old in enumerate(idx)}
    rows = [r for r, ref in enumerate(emb.refs) if ref.subject in pos]
    refs = tuple(replace(emb.refs[r], subject=pos[emb.refs[r].subject]) for r in rows)
    return Embedded(emb.vectors[rows], refs, len(idx))


def labels_of(examples: Sequence[Example]) -> npt.NDArray[np.int8]:
    y = np.zeros((len(examples), len(CATEGORIES)), dtype=np.int8)
    for i, e in enumerate(examples):
        for c in e.labels:
            y[i, CATEGORIES.index(c)] = 1
    return y


def design_matrix(
    vectors: npt.NDArray[np.float32], texts: Sequence[str], lexicons: Sequence[Lexicon]
) -> Any:
    """[embedding | word TF-IDF | char TF-IDF] as a sparse matrix, one row per window."""
    from scipy import sparse

    blocks = [sparse.csr_matrix(vectors.astype(np.float64))]
    for lex in lexicons:
        indptr, indices, data = [0], [], []
        for text in texts:
            cols, vals = lex.row(text)
            indices.append(cols)
            data.append(vals)
            indptr.append(indptr[-1] + len(cols))
        blocks.append(
            sparse.csr_matrix(
                (np.concatenate(data).astype(np.float64), np.concatenate(indices), indptr),
                shape=(len(texts), len(lex.vocab)),
            )
        )
    return sparse.hstack(blocks, format="csr")


def fit_linear(
    x: Any, y: npt.NDArray[np.int8], c: float, seed: int
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """One-vs-rest logistic regressions; coefficients rounded to the float16 they ship as."""
    from sklearn.linear_model import LogisticRegression

    k = y.shape[1]
    coef = np.zeros((k, x.shape[1]), dtype=np.float32)
    intercept = np.full(k, -6.0, dtype=np.float32)
    for j in range(k):
        if 0 < int(y[:, j].sum()) < len(y):
            lr = LogisticRegression(
                C=c, class_weight="balanced", max_iter=5000, tol=1e-4, random_state=seed
            )
            lr.fit(x, y[:, j])
            coef[j] = lr.coef_[0]
            intercept[j] = lr.intercept_[0]
    return coef.astype(np.float16).astype(np.float32), intercept


def fit_gate(
    x: Any, y: npt.NDArray[np.int8], c: float, seed: int
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """A multinomial logistic regression over the categories: a row with several labels is
    repeated once per label at weight 1/len(labels); classes are balanced by weight. Classes
    absent from training get zero coefficients and a very low intercept."""
    from sklearn.linear_model import LogisticRegression

    k = y.shape[1]
    rows, labels, weights = [], [], []
    for i in range(len(y)):
        cats = np.flatnonzero(y[i])
        for j in cats:
            rows.append(i)
            labels.append(int(j))
            weights.append(1.0 / len(cats))
    lab = np.array(labels)
    w = np.array(weights)
    mass = np.bincount(lab, weights=w, minlength=k)
    present = np.flatnonzero(mass > 0)
    w = w * (w.sum() / (len(present) * mass[lab]))
    coef = np.zeros((k, x.shape[1]), dtype=np.float32)
    intercept = np.full(k, -20.0, dtype=np.float32)
    if len(present) >= 2:
        lr = LogisticRegression(C=c, max_iter=5000, tol=1e-4, random_state=seed)
        lr.fit(x[np.array(rows)], lab, sample_weight=w)
        coef[lr.classes_] = lr.coef_
        intercept[lr.classes_] = lr.intercept_
    return coef.astype(np.float16).astype(np.float32), intercept


def fit_platt(
    z: npt.NDArray[np.float32], y: npt.NDArray[np.int8], seed: int
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Per category p = sigmoid(a*z + b), fitted on validation subject-level scores."""
    from sklearn.linear_model import LogisticRegression

    k = y.shape[1]
    a = np.ones(k, dtype=np.float32)
    b = np.zeros(k, dtype=np.float32)
    for j in range(k):
        if 0 < int(y[:, j].sum()) < len(y):
            lr = LogisticRegression(C=100.0, max_iter=5000, tol=1e-8, random_state=seed)
            lr.fit(z[:, j : j + 1].astype(np.float64), y[:, j])
            if lr.coef_[0, 0] > 0:  # a calibration must keep the order of the scores
                a[j], b[j] = lr.coef_[0, 0], lr.intercept_[0]
    return a, b


def choose_thresholds(p: npt.NDArray[np.float32], y: npt.NDArray[np.int8]) -> dict[str, float]:
    """Per category the threshold of best F1 on validation (the middle of any tie)."""
    grid = np.round(np.arange(0.05, 0.951, 0.01), 2)
    out: dict[str, float] = {}
    for j, c in enumerate(CATEGORIES):
        pos = y[:, j] == 1
        if not pos.any():
            out[c] = 0.5
            continue
        f1 = []
        for t in grid:
            pred = p[:, j] >= t
            tp = int((pred & pos).sum())
            denom = int(pred.sum()) + int(pos.sum())
            f1.append(2 * tp / denom if denom else 0.0)
        f = np.round(np.array(f1), 6)
        best = np.flatnonzero(f == f.max())
        out[c] = float(grid[best[len(best) // 2]])
    return out


def harmless_runs(examples: Sequence[Example], emb: Embedded) -> list[int]:
    """The rows of the ~60-word runs (and last exchanges) of examples with no restricted
    label. The gate reads such runs at run time (model.py), so it is fitted on them too: a
    run of a harmless long post is harmless. Which run of a restricted example carries its
    use is unknown, so those stay out."""
    harmless = [e.labels.isdisjoint(RESTRICTED_CATEGORIES) for e in examples]
    return [r for r, ref in enumerate(emb.refs) if ref.unit.part and harmless[ref.subject]]


def fit_parts(
    examples: Sequence[Example], emb: Embedded, adapter: Path | None, config: TrainConfig
) -> Parts:
    """Fit vocabularies, scorers and gates on the primary-unit windows of `examples`; the
    gates on the harmless runs too."""
    from scipy import sparse

    rows = [r for r, ref in enumerate(emb.refs) if ref.primary]
    texts = [emb.refs[r].text for r in rows]
    lexicons = (
        fit_lexicon("word", texts, config.word_min_df, config.word_max_terms),
        fit_lexicon("char", texts, config.char_min_df, config.char_max_terms),
    )
    x = design_matrix(emb.vectors[rows], texts, lexicons)
    labels = labels_of(examples)
    y = labels[[emb.refs[r].subject for r in rows]]
    linears = {c: fit_linear(x, y, c, config.seed) for c in config.c_grid}
    runs = harmless_runs(examples, emb)
    gate_x = x
    if runs:
        run_x = design_matrix(emb.vectors[runs], [emb.refs[r].text for r in runs], lexicons)
        gate_x = sparse.vstack([x, run_x], format="csr")
    gate_y = labels[[emb.refs[r].subject for r in [*rows, *runs]]]
    gates: dict[float | str, Linear] = {
        c: fit_gate(gate_x, gate_y, c, config.seed) for c in config.gate_c_grid
    }
    if own := softmax_gate(load_adapter(adapter) if adapter else {}, x.shape[1]):
        # Rounded like every shipped coefficient.
        gates["adapter"] = (own[0].astype(np.float16).astype(np.float32), own[1])
    return Parts(lexicons, linears, gates)
