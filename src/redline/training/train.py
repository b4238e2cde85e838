"""Train the classifier deterministically from the training side of data/ (never the test split).

The training side is cut into four folds by group (fold 1 is the validation split). Every
choice (calibration, thresholds, the doubt limit `allow_below`, hyper-parameters) is made on
scores of examples the scoring models never saw, pooled over the folds; the shipped adapter
and head are then fitted on all four folds with those choices. Inputs are sorted by id and
every solver is seeded, so two runs on the same data write byte-identical weights.
docs/training.md walks through the steps.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from redline.classify.head import WEIGHTS_DIR, Head, adapter_sha256, save_head
from redline.policy.pack import PackRegistry
from redline.taxonomy import CATEGORIES
from redline.training.calibrate import Calibration, candidate, head_of, objective
from redline.training.config import Choice, Progress, TrainConfig
from redline.training.corpus import Example, data_hash
from redline.training.evaluate import Decisions
from redline.training.fit import Encoder, HeldOut, embed_many, fit_parts, subset
from redline.training.folds import fold_splits


@dataclass(frozen=True)
class TrainResult:
    head: Head
    sha256: str
    metrics: dict[str, Any]


def _rank(metrics: dict[str, Any]) -> tuple[float, float]:
    v = metrics["held_out"]
    within = objective(v["miss_rate"], v["false_block_rate"]) <= 1.0
    return (1.0 if within else -objective(v["miss_rate"], v["false_block_rate"]), v["macro_f1"])


Result = tuple[Choice, Calibration, dict[str, Any]]


def _held_out(
    examples: Sequence[Example],
    folds: Mapping[int, Encoder],
    config: TrainConfig,
    progress: Progress | None,
) -> list[HeldOut]:
    """Per fold: its parts fitted on the other folds, and its examples, as its encoder
    (trained without it) embeds them."""
    held: list[HeldOut] = []
    for k, rest, inside in fold_splits(examples, config.folds):
        if progress:
            progress(f"fold {k}: {len(rest)} to fit, {len(inside)} held out")
        emb = embed_many(folds[k].embedder, [*rest, *inside], progress)
        parts = fit_parts(rest, subset(emb, range(len(rest))), folds[k].adapter, config)
        held_emb = subset(emb, range(len(rest), len(rest) + len(inside)))
        held.append(HeldOut(folds[k], parts, inside, held_emb))
    return held


def _choose(
    held: Sequence[HeldOut], config: TrainConfig, progress: Progress | None
) -> tuple[Choice, Calibration, dict[str, Any], list[Result]]:
    """Every candidate's calibration and figures on the held-out folds pooled; the best."""
    decisions = Decisions(PackRegistry().select(config.pack))
    results: list[Result] = []
    gate_choices = list(held[0].parts.gates)
    grid = itertools.product(config.unit_modes, config.c_grid, gate_choices, config.gate_units)
    for units, c, gate_c, gate_units in grid:
        choice = Choice(c, gate_c, units, gate_units)
        cal, metrics = candidate(held, decisions, choice, config)
        results.append((choice, cal, metrics))
        if progress:
            v = metrics["held_out"]
            progress(
                f"{choice}: held out macro-F1 {v['macro_f1']:.3f}, "
                f"miss {v['miss_rate']:.1%}, false-block {v['false_block_rate']:.1%}"
            )
    choice, cal, metrics = max(results, key=lambda r: _rank(r[2]))
    return choice, cal, metrics, results


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
    held = _held_out(examples, folds, config, progress)
    choice, cal, metrics, results = _choose(held, config, progress)
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
    return head_of(parts, choice, cal, meta), meta


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
