"""Calibrate a choice on the held-out folds pooled, through the exact inference path, and
choose its thresholds and the doubt limit (`allow_below`, policy/doubt.py)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from redline.classify.head import Head
from redline.classify.model import ModelClassifier, SubjectLogits
from redline.classify.types import Classification, Thresholds
from redline.taxonomy import CATEGORIES, RESTRICTED_CATEGORIES
from redline.training.config import FALSE_BLOCK_TARGET, MISS_TARGET, Choice, TrainConfig
from redline.training.corpus import Example
from redline.training.evaluate import Decisions, per_category, score
from redline.training.fit import HeldOut, Parts, choose_thresholds, fit_platt, labels_of


@dataclass(frozen=True)
class Calibration:
    """Chosen on the held-out folds and shipped with the parts fitted on every fold."""

    a: npt.NDArray[np.float32]
    b: npt.NDArray[np.float32]
    gate_platt: npt.NDArray[np.float32]
    thresholds: dict[str, float]
    band: dict[str, float]
    allow_below: float | None = None
    answer_shift: float = 0.0


def objective(miss: float, false_block: float) -> float:
    return max(miss / MISS_TARGET, false_block / FALSE_BLOCK_TARGET)


def head_of(parts: Parts, choice: Choice, cal: Calibration, meta: dict[str, Any]) -> Head:
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
        thresholds=Thresholds(cal.thresholds, cal.band, cal.allow_below, cal.answer_shift),
        gate_coef=gate_coef,
        gate_intercept=gate_intercept,
        gate_platt=cal.gate_platt,
        restricted=RESTRICTED_CATEGORIES,
        meta=meta,
        sha256="training",
    )


def operating_point(
    p: npt.NDArray[np.float32], expected_allow: npt.NDArray[np.bool_], gated: list[int]
) -> float:
    """The restricted mass (the scores of the pack-restricted categories summed, as
    policy/doubt.py sums them) at or above which the request is flagged (hold or deny),
    chosen on validation: furthest inside both targets, then fewest misses."""
    grid = np.round(np.arange(0.02, 0.951, 0.01), 2)
    top = np.minimum(p[:, gated].sum(axis=1), 1.0) if gated else np.zeros(len(p))
    n_allow = max(int(expected_allow.sum()), 1)
    n_restricted = max(int((~expected_allow).sum()), 1)

    def at(op: float) -> Point:
        flagged = top >= op
        return Point(op, int((~expected_allow & ~flagged).sum()) / n_restricted,
                     int((expected_allow & flagged).sum()) / n_allow)  # fmt: skip

    return furthest_inside(at(float(op)) for op in grid)


@dataclass(frozen=True)
class Point:
    """One candidate setting and the miss and false-block rates it gives."""

    value: float
    miss: float
    false_block: float


def furthest_inside(points: Iterable[Point]) -> float:
    """The setting furthest inside both targets, then with the fewest misses, then the
    fewest false blocks, then the smallest."""
    best = min(points, key=lambda q: (round(objective(q.miss, q.false_block), 9), q.miss,
                                      q.false_block, q.value))  # fmt: skip
    return best.value


def scored(
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
        head = head_of(h.parts, choice, cal, meta)
        out += ModelClassifier(h.encoder.embedder, head).scores_from_logits(
            fold_logits, h.emb.refs, [e.subject for e in h.examples]
        )
    return out


def rates(examples: Sequence[Example], cls: Sequence[Any], decisions: Decisions) -> dict[str, Any]:
    report = score(examples, cls, decisions)
    table, macro = per_category(examples, cls)
    return {
        "n": len(examples),
        "macro_f1": round(macro, 4),
        "miss_rate": round(report.miss_rate, 4),
        "false_block_rate": round(report.false_block_rate, 4),
        "f1": {cat: table[cat]["f1"] for cat in CATEGORIES},
    }


def _uncalibrated() -> Calibration:
    return Calibration(
        np.ones(len(CATEGORIES), dtype=np.float32),
        np.zeros(len(CATEGORIES), dtype=np.float32),
        np.array([1.0, 0.0], dtype=np.float32),
        {cat: 0.5 for cat in CATEGORIES},
        {cat: 0.0 for cat in CATEGORIES},
    )


def _raw_logits(
    held: Sequence[HeldOut], choice: Choice, meta: dict[str, Any]
) -> list[SubjectLogits]:
    """Raw subject-level logits (the strongest window) of each fold by its own parts;
    calibration does not change them, so they are computed once per fold."""
    uncalibrated = _uncalibrated()
    logits: list[SubjectLogits] = []
    for h in held:
        raw = ModelClassifier(
            h.encoder.embedder, head_of(h.parts, choice, uncalibrated, meta), tool_rules=False
        )
        logits.append(raw.subject_logits(h.emb))
    return logits


def _platt(
    logits: Sequence[SubjectLogits], y: npt.NDArray[np.int8], seed: int
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Platt calibrations of the categories and of the gate, on every fold pooled."""
    zs = [np.where(present[:, None], z, 0.0).astype(np.float32) for z, _, _, present in logits]
    gs = [g.astype(np.float32) for _, _, g, _ in logits]
    a, b = fit_platt(np.concatenate(zs), y, seed)
    restricted = np.array([cat in RESTRICTED_CATEGORIES for cat in CATEGORIES])
    y_gate = np.asarray(y[:, restricted].any(axis=1), dtype=np.int8).reshape(-1, 1)
    ga, gb = fit_platt(np.concatenate(gs)[:, None], y_gate, seed)
    return a, b, np.array([ga[0], gb[0]], dtype=np.float32)


def _thresholds_at(op: float, band: float, best_f1: dict[str, float]) -> Thresholds:
    """The restricted categories at `op` + `band` with `band` below; the others at best F1;
    the doubt limit at `op`."""
    t = round(op + band, 4)
    return Thresholds(
        {cat: (t if cat in RESTRICTED_CATEGORIES else best_f1[cat]) for cat in CATEGORIES},
        {cat: (band if cat in RESTRICTED_CATEGORIES else 0.0) for cat in CATEGORIES},
        allow_below=op,
    )


def _choose_band(
    examples: Sequence[Example],
    cls: Sequence[Classification],
    op: float,
    best_f1: dict[str, float],
    config: TrainConfig,
) -> float:
    """The band of best macro-F1 (the smallest of a tie)."""
    best: tuple[float, float] | None = None
    chosen = 0.0
    for band in config.band_grid:
        if op + band > 0.97:
            continue
        th = _thresholds_at(op, band, best_f1)
        _, macro = per_category(examples, [replace(cl, thresholds=th) for cl in cls])
        key = (-round(macro, 6), band)
        if best is None or key < best:
            best, chosen = key, band
    return chosen


def candidate(
    held: Sequence[HeldOut], decisions: Decisions, choice: Choice, config: TrainConfig
) -> tuple[Calibration, dict[str, Any]]:
    """Calibrate one choice on every held-out fold pooled; return it and its figures."""
    meta = choice.meta()
    examples = [e for h in held for e in h.examples]
    logits = _raw_logits(held, choice, meta)
    y = labels_of(examples)
    a, b, gate_platt = _platt(logits, y, config.seed)
    flat = _uncalibrated()
    cal = Calibration(a, b, gate_platt, flat.thresholds, flat.band)
    cls = scored(held, logits, choice, meta, cal)
    p = np.array([[cl.score(cat) for cat in CATEGORIES] for cl in cls], dtype=np.float32)
    # Thresholds: best F1 for the allowed categories; for those the pack holds or denies,
    # the operating point furthest inside both targets, split into threshold and band.
    best_f1 = choose_thresholds(p, y)
    gated = [
        j for j, cat in enumerate(CATEGORIES) if decisions.expected(frozenset({cat})) != "allow"
    ]
    expected_allow = np.array([decisions.expected(e.labels) == "allow" for e in examples])
    op = operating_point(p, expected_allow, gated)
    band = _choose_band(examples, cls, op, best_f1, config)
    th = _thresholds_at(op, band, best_f1)
    final = [replace(cl, thresholds=th) for cl in cls]
    on_validation = [i for i, e in enumerate(examples) if e.split == "validation"]
    answers = [i for i, e in enumerate(examples) if e.id.startswith(config.answer_ids)]
    shift = answer_shift([examples[i] for i in answers], [final[i] for i in answers],
                         decisions, config)  # fmt: skip
    metrics = {
        **choice.meta(),
        "band": band,
        "restricted_threshold": round(op + band, 4),
        "allow_below": op,
        "answer_shift": shift,
        "held_out": rates(examples, final, decisions),
        "validation": rates(
            [examples[i] for i in on_validation], [final[i] for i in on_validation], decisions
        ),
        "answers": answer_rates(
            [examples[i] for i in answers], [final[i] for i in answers], decisions, shift
        ),
    }
    return Calibration(a, b, gate_platt, dict(th.threshold), dict(th.band), op, shift), metrics


def _read_as_answers(cls: Sequence[Classification], shift: float) -> list[Classification]:
    return [replace(cl, thresholds=replace(cl.thresholds, answer_shift=shift)).as_answer()
            for cl in cls]  # fmt: skip


def answer_shift(
    examples: Sequence[Example],
    cls: Sequence[Classification],
    decisions: Decisions,
    config: TrainConfig,
) -> float:
    """How far above a request's limits an answer is read: chosen like the operating point
    (`furthest_inside`), on held-out answer-like text only. 0 when there is none, or when
    no shift does better."""
    if not examples:
        return 0.0

    def at(shift: float) -> Point:
        report = score(examples, _read_as_answers(cls, shift), decisions)
        return Point(shift, report.miss_rate, report.false_block_rate)

    return furthest_inside(at(shift) for shift in config.answer_shift_grid)


def answer_rates(
    examples: Sequence[Example], cls: Sequence[Classification], decisions: Decisions, shift: float
) -> dict[str, Any]:
    """The answer-like held-out examples read as requests and as answers."""
    if not examples:
        return {"n": 0}
    as_requests = rates(examples, cls, decisions)
    as_answers = rates(examples, _read_as_answers(cls, shift), decisions)
    return {
        "n": len(examples),
        "as_requests": {k: as_requests[k] for k in ("miss_rate", "false_block_rate")},
        "as_answers": {k: as_answers[k] for k in ("miss_rate", "false_block_rate")},
    }
