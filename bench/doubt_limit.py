"""How the shipped head's doubt limit (`allow_below` in head.json) was chosen: training's
objective (training/calibrate.py `operating_point`) on the summed restricted mass of the
data/round6/ lines outside the test split, which the shipped classifier was never trained
on. A retrain chooses it on the held-out folds instead (training/calibrate.py).

    .venv/bin/python bench/doubt_limit.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from redline.classify.model import load_model_classifier
from redline.policy.pack import PackRegistry
from redline.taxonomy import CATEGORIES
from redline.training.calibrate import operating_point
from redline.training.corpus import load_file
from redline.training.evaluate import Decisions, classify_all

ROUND6 = Path("data/round6")
PACK = "provider-redlines"


def main() -> None:
    lines = [e for p in sorted(ROUND6.glob("*.jsonl")) for e in load_file(p)]
    held = sorted((e for e in lines if e.split != "test"), key=lambda e: e.id)
    cls = classify_all(load_model_classifier(), held)
    decisions = Decisions(PackRegistry().select(PACK))
    p = np.array([[cl.score(c) for c in CATEGORIES] for cl in cls], dtype=np.float32)
    gated = [j for j, c in enumerate(CATEGORIES) if decisions.expected(frozenset({c})) != "allow"]
    allow = np.array([decisions.expected(e.labels) == "allow" for e in held])
    chosen = operating_point(p, allow, gated)
    mass = np.minimum(p[:, gated].sum(axis=1), 1.0)
    n_allowed = int(allow.sum())
    print(f"{len(held)} of {len(lines)} round6 lines outside the test split, {n_allowed} allowed")
    print(f"{'limit':>6} {'miss':>7} {'false-block':>12}")
    for limit in sorted({0.35, 0.44, 0.5, 0.6, chosen}):
        flagged = mass >= limit
        miss = float((~allow & ~flagged).sum() / max(int((~allow).sum()), 1))
        block = float((allow & flagged).sum() / max(int(allow.sum()), 1))
        mark = "  <- chosen" if limit == chosen else ""
        print(f"{limit:>6.2f} {miss:>7.1%} {block:>12.1%}{mark}")


if __name__ == "__main__":
    main()
