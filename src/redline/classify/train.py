"""Train the classifier deterministically from the training side of data/ (never the test split).

The training side is cut into four folds by group (corpus.fold_of; fold 1 is the validation
split). Everything that is chosen (calibration, thresholds, hyper-parameters) is chosen on
scores of examples that the models scoring them never saw, pooled over the four folds; the
shipped adapter and head are then fitted on all four folds with those choices.

0. Adapters (adapter.py): one per fold, trained on the other three folds and merged into a
   model built under var/train/fold-<k>/ (`fold_encoder`, a cache); and the shipped one,
   trained on every fold, written beside the head and merged into the served model.
1. Embed every example (all its units and windows) with each fold's model.
2. Per fold, on the other folds (`fit_parts`): one-vs-rest logistic regressions (balanced
   class weights) on the windows of each example's primary unit (the whole of it),
   labelled with its categories; a window's features are its embedding and word /
   character-n-gram TF-IDF of its text (vocabularies fitted on those folds only).
3. And the restriction gate on the same rows: one multinomial logistic regression over the
   categories (an example with several labels counts once, split between them; balanced
   class weights), or the fold adapter's own softmax layer. Its log-odds of "restricted"
   against "allowed" pools every training example, so whether anything restricted is asked
   for is decided by one scorer trained on all the data rather than by the weakest of ten.
4. On the held-out folds pooled, through the exact inference path (strongest window per
   category, gate, tool rules by max): fit a Platt calibration per category and for the
   gate; choose per-category thresholds (best F1) for the allowed categories; choose the
   operating point of the restricted ones, a limit on their summed scores (`allow_below`,
   policy/doubt.py), that keeps the miss and false-block rates under the pack furthest
   inside their targets, then split the per-category threshold above it into a threshold
   and an uncertainty band by best macro-F1.
5. Hyper-parameters (regularisation C of both scorers or the adapter's softmax as the gate,
   whether per-turn units are scored, where the gate reads) are chosen the same way.
6. The shipped head: step 2 and 3 on every fold, as the shipped model embeds them, with the
   calibration and thresholds of step 4. Inputs are sorted by id and every solver is
   seeded, so two runs on the same data write byte-identical weights.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from redline.classify.adapter import (
    ADAPTER_FILE,
    AdapterConfig,
    adapter_sha256,
    fine_tune,
    load_adapter,
    save_adapter,
    softmax_gate,
)
from redline.classify.corpus import Example, data_hash, fold_of
from redline.classify.evaluate import Decisions, per_category, score
from redline.classify.features import (
    Embedded,
    EmbedderLike,
    Lexicon,
    WindowRef,
    embed_subjects,
    fit_lexicon,
)
from redline.classify.head import WEIGHTS_DIR, Head, save_head
from redline.classify.model import ModelClassifier, SubjectLogits
from redline.classify.types import Thresholds
from redline.policy.pack import PackRegistry
from redline.taxonomy import CATEGORIES, RESTRICTED_CATEGORIES

MISS_TARGET = 0.03
FALSE_BLOCK_TARGET = 0.05
EMBED_BATCH = 128
FOLD_DIR = Path("var/train")  # the fold encoders' cache (fold_encoder)
Progress = Callable[[str], None]


@dataclass(frozen=True)
class TrainConfig:
    c_grid: tuple[float, ...] = (4.0,)
    gate_c_grid: tuple[float, ...] = (4.0, 16.0, 64.0)
    word_min_df: int = 2
    word_max_terms: int = 8000
    char_min_df: int = 3
    char_max_terms: int = 12000
    unit_modes: tuple[str, ...] = ("all", "primary")
    # Where the gate reads: the primary unit's windows and its ~60-word runs ("parts"), or
    # the windows alone ("primary"). Not left to the held-out figures: without the runs a
    # long benign opening dilutes a request at its end below the gate (a 5-sentence
    # preamble took a sarin request from 0.999 to 0.23), and the corpus holds too few such
    # inputs to count it. Held out, adapter gate: 0.854 / 5.9% / 10.2% with the runs,
    # 0.856 / 5.3% / 9.0% without (macro-F1 / miss / false-block).
    gate_units: tuple[str, ...] = ("parts",)
    band_grid: tuple[float, ...] = tuple(round(0.02 * i, 2) for i in range(21))
    pack: str = "provider-redlines"
    # Cross-fitting folds (fold_of: the group hash mod 5; 1 is the validation split, 0 the
    # test split and never here). Each is held out once; its figures pool into the choice.
    folds: tuple[int, ...] = (1, 2, 3, 4)
    seed: int = 0


@dataclass(frozen=True)
class Choice:
    """One candidate's hyper-parameters (see TrainConfig); the head's meta records them."""

    c: float
    gate_c: float | str  # a regularisation, or "adapter": the adapter's own softmax layer
    units: str
    gate_units: str

    def meta(self) -> dict[str, Any]:
        return {"C": self.c, "gate_C": self.gate_c, "units": self.units,
                "gate_units": self.gate_units}  # fmt: skip

    def __str__(self) -> str:
        return f"C={self.c} gate C={self.gate_c} units={self.units} gate={self.gate_units}"


@dataclass(frozen=True)
class TrainResult:
    head: Head
    sha256: str
    metrics: dict[str, Any]


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


def _subset(emb: Embedded, idx: Sequence[int]) -> Embedded:
    """The windows of the subjects at positions `idx`, renumbered 0..len(idx)-1."""
    pos = {old: new for new, old in enumerate(idx)}
    rows = [r for r, ref in enumerate(emb.refs) if ref.subject in pos]
    refs = tuple(replace(emb.refs[r], subject=pos[emb.refs[r].subject]) for r in rows)
    return Embedded(emb.vectors[rows], refs, len(idx))


def _labels(examples: Sequence[Example]) -> npt.NDArray[np.int8]:
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


def _objective(miss: float, false_block: float) -> float:
    return max(miss / MISS_TARGET, false_block / FALSE_BLOCK_TARGET)


def _head(parts: Parts, choice: Choice, cal: Calibration, meta: dict[str, Any]) -> Head:
    """The head of one choice: `parts`' scorer and gate for it, with `cal`'s calibration."""
    coef, intercept = parts.linears[choice.c]
    gate_coef, gate_intercept = parts.gates[choice.gate_c]
    return Head(
        categories=CATEGORIES,
        lexicons=parts.lexicons,
        coef=coef,
        intercept=intercept,
        platt_a=cal.a,
        platt_b=cal.b,
        thresholds=Thresholds(cal.thresholds, cal.band, cal.allow_below),
        gate_coef=gate_coef,
        gate_intercept=gate_intercept,
        gate_platt=cal.gate_platt,
        restricted=RESTRICTED_CATEGORIES,
        meta=meta,
        sha256="training",
    )


Linear = tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]


def _operating_point(
    p: npt.NDArray[np.float32], expected_allow: npt.NDArray[np.bool_], gated: list[int]
) -> float:
    """The restricted mass (the scores of the pack-restricted categories summed, as
    policy/doubt.py sums them) at or above which the request is flagged (hold or deny),
    chosen on validation: furthest inside both targets, then fewest misses."""
    grid = np.round(np.arange(0.02, 0.951, 0.01), 2)
    best: tuple[float, float, float, float] | None = None
    chosen = 0.5
    top = np.minimum(p[:, gated].sum(axis=1), 1.0) if gated else np.zeros(len(p))
    n_allow = max(int(expected_allow.sum()), 1)
    n_restricted = max(int((~expected_allow).sum()), 1)
    for op in grid:
        flagged = top >= op
        miss = int((~expected_allow & ~flagged).sum()) / n_restricted
        false_block = int((expected_allow & flagged).sum()) / n_allow
        key = (round(_objective(miss, false_block), 9), miss, false_block, float(op))
        if best is None or key < best:
            best, chosen = key, float(op)
    return chosen


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


@dataclass(frozen=True)
class Calibration:
    """Chosen on the held-out folds and shipped with the parts fitted on every fold."""

    a: npt.NDArray[np.float32]
    b: npt.NDArray[np.float32]
    gate_platt: npt.NDArray[np.float32]
    thresholds: dict[str, float]
    band: dict[str, float]
    allow_below: float | None = None


def fit_parts(
    examples: Sequence[Example], emb: Embedded, adapter: Path | None, config: TrainConfig
) -> Parts:
    """Fit vocabularies, scorers and gates on the primary-unit windows of `examples`."""
    rows = [r for r, ref in enumerate(emb.refs) if ref.primary]
    texts = [emb.refs[r].text for r in rows]
    lexicons = (
        fit_lexicon("word", texts, config.word_min_df, config.word_max_terms),
        fit_lexicon("char", texts, config.char_min_df, config.char_max_terms),
    )
    x = design_matrix(emb.vectors[rows], texts, lexicons)
    y = _labels(examples)[[emb.refs[r].subject for r in rows]]
    linears = {c: fit_linear(x, y, c, config.seed) for c in config.c_grid}
    gates: dict[float | str, Linear] = {
        c: fit_gate(x, y, c, config.seed) for c in config.gate_c_grid
    }
    if own := softmax_gate(load_adapter(adapter) if adapter else {}, x.shape[1]):
        # Rounded like every shipped coefficient.
        gates["adapter"] = (own[0].astype(np.float16).astype(np.float32), own[1])
    return Parts(lexicons, linears, gates)


def _scored(
    held: Sequence[HeldOut],
    logits: Sequence[SubjectLogits],
    choice: Choice,
    meta: dict[str, Any],
    cal: Calibration,
) -> list[Any]:
    """Every held-out example's classification by its own fold's parts (whose subject
    logits are `logits`), calibrated by `cal`, in fold order."""
    out: list[Any] = []
    for h, fold_logits in zip(held, logits, strict=True):
        head = _head(h.parts, choice, cal, meta)
        out += ModelClassifier(h.encoder.embedder, head).scores_from_logits(
            fold_logits, h.emb.refs, [e.subject for e in h.examples]
        )
    return out


def _rates(examples: Sequence[Example], cls: Sequence[Any], decisions: Decisions) -> dict[str, Any]:
    report = score(examples, cls, decisions)
    table, macro = per_category(examples, cls)
    return {
        "n": len(examples),
        "macro_f1": round(macro, 4),
        "miss_rate": round(report.miss_rate, 4),
        "false_block_rate": round(report.false_block_rate, 4),
        "f1": {cat: table[cat]["f1"] for cat in CATEGORIES},
    }


def fold_splits(
    examples: Sequence[Example], folds: Sequence[int]
) -> list[tuple[int, list[Example], list[Example]]]:
    """(fold, the examples its parts are fitted on, the examples it holds out) per fold."""
    out = []
    for k in folds:
        inside = [e for e in examples if fold_of(e.group) == k]
        rest = [e for e in examples if fold_of(e.group) != k]
        if not inside or not rest:
            raise ValueError(f"fold {k} or the rest of the training side is empty")
        out.append((k, rest, inside))
    return out


def _candidate(
    held: Sequence[HeldOut], decisions: Decisions, choice: Choice, config: TrainConfig
) -> tuple[Calibration, dict[str, Any]]:
    """Calibrate one choice on every held-out fold pooled; return it and its figures."""
    flat = {cat: 0.5 for cat in CATEGORIES}
    nob = {cat: 0.0 for cat in CATEGORIES}
    uncalibrated = Calibration(
        np.ones(len(CATEGORIES), dtype=np.float32),
        np.zeros(len(CATEGORIES), dtype=np.float32),
        np.array([1.0, 0.0], dtype=np.float32),
        flat,
        nob,
    )
    meta = choice.meta()
    examples = [e for h in held for e in h.examples]
    # 1. Raw subject-level logits (the strongest window) of each fold by its own parts;
    #    calibration does not change them, so they are computed once per fold.
    logits: list[SubjectLogits] = []
    zs, gs = [], []
    for h in held:
        raw = ModelClassifier(
            h.encoder.embedder, _head(h.parts, choice, uncalibrated, meta), tool_rules=False
        )
        logits.append(raw.subject_logits(h.emb))
        z, _, g, present = logits[-1]
        zs.append(np.where(present[:, None], z, 0.0).astype(np.float32))
        gs.append(g.astype(np.float32))
    # 2. Platt calibrations of the categories and of the gate, on every fold pooled.
    y = _labels(examples)
    a, b = fit_platt(np.concatenate(zs), y, config.seed)
    restricted = np.array([cat in RESTRICTED_CATEGORIES for cat in CATEGORIES])
    y_gate = np.asarray(y[:, restricted].any(axis=1), dtype=np.int8).reshape(-1, 1)
    ga, gb = fit_platt(np.concatenate(gs)[:, None], y_gate, config.seed)
    gate_platt = np.array([ga[0], gb[0]], dtype=np.float32)
    cls = _scored(held, logits, choice, meta, Calibration(a, b, gate_platt, flat, nob))
    p = np.array([[cl.score(cat) for cat in CATEGORIES] for cl in cls], dtype=np.float32)
    # 3. Thresholds: best F1 for the allowed categories; for those the pack holds or denies,
    #    the operating point furthest inside both targets, split into threshold and band.
    best_f1 = choose_thresholds(p, y)
    gated = [
        j for j, cat in enumerate(CATEGORIES) if decisions.expected(frozenset({cat})) != "allow"
    ]
    expected_allow = np.array([decisions.expected(e.labels) == "allow" for e in examples])
    op = _operating_point(p, expected_allow, gated)

    def thresholds_at(band_value: float) -> Thresholds:
        t = round(op + band_value, 4)
        return Thresholds(
            {cat: (t if cat in RESTRICTED_CATEGORIES else best_f1[cat]) for cat in CATEGORIES},
            {cat: (band_value if cat in RESTRICTED_CATEGORIES else 0.0) for cat in CATEGORIES},
            allow_below=op,
        )

    best: tuple[float, float] | None = None
    chosen_band = 0.0
    for band_value in config.band_grid:
        if op + band_value > 0.97:
            continue
        th = thresholds_at(band_value)
        _, macro = per_category(examples, [replace(cl, thresholds=th) for cl in cls])
        key = (-round(macro, 6), band_value)
        if best is None or key < best:
            best, chosen_band = key, band_value
    th = thresholds_at(chosen_band)
    cal = Calibration(a, b, gate_platt, dict(th.threshold), dict(th.band), op)
    final = [replace(cl, thresholds=th) for cl in cls]
    on_validation = [i for i, e in enumerate(examples) if e.split == "validation"]
    metrics = {
        **choice.meta(),
        "band": chosen_band,
        "restricted_threshold": round(op + chosen_band, 4),
        "allow_below": op,
        "held_out": _rates(examples, final, decisions),
        "validation": _rates(
            [examples[i] for i in on_validation], [final[i] for i in on_validation], decisions
        ),
    }
    return cal, metrics


def _rank(metrics: dict[str, Any]) -> tuple[float, float]:
    v = metrics["held_out"]
    within = _objective(v["miss_rate"], v["false_block_rate"]) <= 1.0
    return (1.0 if within else -_objective(v["miss_rate"], v["false_block_rate"]), v["macro_f1"])


def train(
    examples: Sequence[Example],
    folds: Mapping[int, Encoder],
    final: Encoder,
    config: TrainConfig | None = None,
    progress: Progress | None = None,
) -> tuple[Head, dict[str, Any]]:
    """Cross-fit the head on the training side: fold k's parts are fitted on the other
    folds as `folds[k]` (trained without fold k) embeds them and score fold k; calibration,
    thresholds and hyper-parameters are chosen on every fold's held-out scores pooled; the
    shipped parts are fitted on every fold as `final` embeds them. Raises ValueError if
    handed test examples."""
    config = config or TrainConfig()
    examples = sorted(examples, key=lambda e: e.id)
    if any(e.split == "test" for e in examples):
        raise ValueError("training was handed test-split examples")
    if set(folds) != set(config.folds):
        raise ValueError(f"got encoders for folds {sorted(folds)}, expected {config.folds}")
    held: list[HeldOut] = []
    for k, rest, inside in fold_splits(examples, config.folds):
        if progress:
            progress(f"fold {k}: {len(rest)} to fit, {len(inside)} held out")
        emb = embed_many(folds[k].embedder, [*rest, *inside], progress)
        parts = fit_parts(rest, _subset(emb, range(len(rest))), folds[k].adapter, config)
        held_emb = _subset(emb, range(len(rest), len(rest) + len(inside)))
        held.append(HeldOut(folds[k], parts, inside, held_emb))
    decisions = Decisions(PackRegistry().select(config.pack))
    results: list[tuple[Choice, Calibration, dict[str, Any]]] = []
    gate_choices = list(held[0].parts.gates)
    grid = itertools.product(config.unit_modes, config.c_grid, gate_choices, config.gate_units)
    for units, c, gate_c, gate_units in grid:
        choice = Choice(c, gate_c, units, gate_units)
        cal, metrics = _candidate(held, decisions, choice, config)
        results.append((choice, cal, metrics))
        if progress:
            v = metrics["held_out"]
            progress(
                f"{choice}: held out macro-F1 {v['macro_f1']:.3f}, "
                f"miss {v['miss_rate']:.1%}, false-block {v['false_block_rate']:.1%}"
            )
    choice, cal, metrics = max(results, key=lambda r: _rank(r[2]))
    if progress:
        progress("fitting the shipped head on every fold")
    parts = fit_parts(examples, embed_many(final.embedder, examples, progress), final.adapter,
                      config)  # fmt: skip
    counts = {cat: sum(cat in e.labels for e in examples) for cat in CATEGORIES}
    meta = {
        **choice.meta(),
        "format": 3,
        "pack": config.pack,
        "embedder": final.embedder.model_version,
        "adapter_sha256": adapter_sha256(final.adapter) if final.adapter is not None else None,
        "train_data_sha256": data_hash(examples),
        "folds": list(config.folds),
        "n_train": len(examples),
        "n_held_out": sum(len(h.examples) for h in held),
        "label_counts": counts,
        "selected": metrics,
        "candidates": [m for _, _, m in results],
    }
    return _head(parts, choice, cal, meta), meta


def train_adapter(
    examples: Sequence[Example],
    out_dir: Path = WEIGHTS_DIR,
    config: AdapterConfig | None = None,
    progress: Progress | None = None,
) -> str:
    """Fine-tune the adapter on `examples` (training side only), starting from the package's
    plain weights, and write `<out_dir>/adapter.npz`; returns its SHA-256."""
    from redline.classify.build import load_torch_model, source_model_dir
    from redline.classify.embed import TOKENIZER_FILE, load_tokenizer

    src = source_model_dir()
    tokenizer = load_tokenizer((src / TOKENIZER_FILE).read_text(encoding="utf-8"))
    model = load_torch_model(src)  # never a model with an adapter already merged
    arrays = fine_tune(model, tokenizer, examples, config, progress)
    out_dir.mkdir(parents=True, exist_ok=True)
    return save_adapter(arrays, out_dir / ADAPTER_FILE.name)


# The modules whose code shapes a fold encoder: an edit to any of them (a tokenising,
# normalising or training change) makes a cached encoder stale.
_ENCODER_MODULES = ("adapter", "build", "corpus", "embed", "features", "normalize", "segments")


def encoder_code_hash(package: Path = Path(__file__).parent) -> str:
    """SHA-256 over the source of the modules that shape a fold encoder."""
    digest = hashlib.sha256()
    for name in _ENCODER_MODULES:
        digest.update((package / f"{name}.py").read_bytes())
    return digest.hexdigest()


def fold_encoder(
    examples: Sequence[Example],
    fold: int,
    root: Path = FOLD_DIR,
    config: AdapterConfig | None = None,
    progress: Progress | None = None,
) -> Encoder:
    """Fold `fold`'s encoder: an adapter trained on every other fold of the training side,
    merged into a model built in `<root>/fold-<k>/`. Reused when that directory was built
    from the same examples, adapter settings and encoder code (a cache under var/, not
    shipped)."""
    from redline.classify.build import build_model
    from redline.classify.embed import load_embedder

    config = config or AdapterConfig()
    [(_, rest, _)] = fold_splits(examples, [fold])
    key = hashlib.sha256(f"{data_hash(rest)} {config!r} {encoder_code_hash()}".encode()).hexdigest()
    where = root / f"fold-{fold}"
    stamp = where / "built-from"
    fresh = stamp.is_file() and stamp.read_text(encoding="utf-8") == key
    if not fresh:
        if progress:
            progress(f"fold {fold}: training its adapter on {len(rest)} examples")
        stamp.unlink(missing_ok=True)
        train_adapter(rest, where, config, progress)
        build_model(where / "model", adapter=where / ADAPTER_FILE.name, progress=False)
        stamp.write_text(key, encoding="utf-8")
    return Encoder(load_embedder(where / "model"), where / ADAPTER_FILE.name)


def train_and_save(
    examples: Sequence[Example],
    folds: Mapping[int, Encoder],
    final: Encoder,
    out_dir: Path = WEIGHTS_DIR,
    config: TrainConfig | None = None,
    progress: Progress | None = None,
) -> TrainResult:
    head, meta = train(examples, folds, final, config, progress)
    sha = save_head(head, out_dir)
    return TrainResult(replace(head, sha256=sha), sha, meta)
