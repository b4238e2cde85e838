"""The cross-fitting folds and their encoders: an adapter per fold, trained without it and
merged into a model cached under var/train/."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from redline.classify.head import ADAPTER_FILE, WEIGHTS_DIR
from redline.training.adapter import AdapterConfig, fine_tune, save_adapter
from redline.training.config import Progress
from redline.training.corpus import Example, data_hash, fold_of
from redline.training.fit import Encoder

FOLD_DIR = Path("var/train")  # the fold encoders' cache (fold_encoder)


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


def train_adapter(
    examples: Sequence[Example],
    out_dir: Path = WEIGHTS_DIR,
    config: AdapterConfig | None = None,
    progress: Progress | None = None,
) -> str:
    """Fine-tune the adapter on `examples` (training side only), starting from the package's
    plain weights, and write `<out_dir>/adapter.npz`; returns its SHA-256."""
    from redline.classify.embed import TOKENIZER_FILE, load_tokenizer
    from redline.training.build import load_torch_model, source_model_dir

    src = source_model_dir()
    tokenizer = load_tokenizer((src / TOKENIZER_FILE).read_text(encoding="utf-8"))
    model = load_torch_model(src)  # never a model with an adapter already merged
    arrays = fine_tune(model, tokenizer, examples, config, progress)
    out_dir.mkdir(parents=True, exist_ok=True)
    return save_adapter(arrays, out_dir / ADAPTER_FILE.name)


# The modules whose code shapes a fold encoder: an edit to any of them (a tokenising,
# normalising or training change) makes a cached encoder stale.
_ENCODER_MODULES = (
    "training/adapter.py",
    "training/build.py",
    "training/corpus.py",
    "classify/embed.py",
    "classify/features.py",
    "classify/normalize.py",
    "classify/segments.py",
)


def encoder_code_hash(package: Path = Path(__file__).parent.parent) -> str:
    """SHA-256 over the source of the modules that shape a fold encoder (`package` is the
    `redline` package directory)."""
    digest = hashlib.sha256()
    for name in _ENCODER_MODULES:
        digest.update((package / name).read_bytes())
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
    from redline.classify.embed import load_embedder
    from redline.training.build import build_model

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
