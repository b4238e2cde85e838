"""The classifier a git revision shipped, rebuilt from that revision's committed adapter and
head, so that a benchmark prints the classifier before a retrain beside the one after it in
one run. Cached under var/bench-baseline/<rev>/ (a cache, not shipped)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from redline.classify.model import ModelClassifier, load_model_classifier

WEIGHTS = "src/redline/classify/weights"
FILES = ("adapter.npz", "head.npz", "head.json")
ROOT = Path(__file__).resolve().parents[1]


def baseline_classifier(rev: str, cache: Path = ROOT / "var" / "bench-baseline") -> ModelClassifier:
    """The classifier committed at `rev`; its model is built once with `redline model build`'s
    code (the [train] extra)."""
    full = _git("rev-parse", "--verify", f"{rev}^{{commit}}").decode().strip()
    where = cache / full[:12]
    weights = where / "weights"
    if not all((weights / name).is_file() for name in FILES):
        weights.mkdir(parents=True, exist_ok=True)
        for name in FILES:
            (weights / name).write_bytes(_git("show", f"{full}:{WEIGHTS}/{name}"))
    model = where / "model"
    if not (model / "model.json").is_file():
        from redline.training.build import build_model

        build_model(model, adapter=weights / "adapter.npz", progress=False)
    return load_model_classifier(model, weights)


def _git(*args: str) -> bytes:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, check=True).stdout
