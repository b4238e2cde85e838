"""The embedding model's adapter: deterministic training, an exact merge, and a model, an
adapter and a head that must belong together or the classifier refuses to load."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from redline.classify.embed import TOKENIZER_FILE, default_model_dir, load_tokenizer, read_meta
from redline.classify.head import WEIGHTS_DIR, load_head
from redline.classify.model import check_adapter
from redline.errors import ClassifierError
from redline.taxonomy import CATEGORIES
from redline.training.adapter import (
    ADAPTER_FILE,
    SOFTMAX,
    TARGETS,
    AdapterConfig,
    fine_tune,
    load_adapter,
    merge,
    save_adapter,
)
from redline.training.corpus import load_corpus, training_side

TINY = AdapterConfig(rank=2, epochs=1, batch_size=8, max_tokens=64)


@pytest.fixture(scope="module")
def source() -> Path:
    from redline.training.build import source_model_dir

    return source_model_dir()


def _plain(source: Path) -> Any:
    from redline.training.build import load_torch_model

    return load_torch_model(source)


def _few() -> list[Any]:
    side = [e for e in training_side() if e.split == "train"]
    return [next(e for e in side if e.category == c) for c in CATEGORIES][:12]


@pytest.mark.slow
def test_adapter_training_is_deterministic(source: Path, tmp_path: Path) -> None:
    tokenizer = load_tokenizer((source / TOKENIZER_FILE).read_text())
    few = _few()
    a = fine_tune(_plain(source), tokenizer, few, TINY)
    b = fine_tune(_plain(source), tokenizer, list(reversed(few)), TINY)
    assert save_adapter(a, tmp_path / "a.npz") == save_adapter(b, tmp_path / "b.npz")
    lora = {f"layer.{i}.{t}.{m}" for i in range(6) for t in TARGETS for m in "AB"}
    assert set(a) == lora | set(SOFTMAX)
    assert any(np.abs(v).max() > 0 for k, v in a.items() if k.endswith(".B")), "nothing learnt"


def test_adapter_never_trains_on_the_test_split(source: Path) -> None:
    tokenizer = load_tokenizer((source / TOKENIZER_FILE).read_text())
    test = load_corpus(splits=("test",))[:2]
    with pytest.raises(ValueError, match="test-split"):
        fine_tune(_plain(source), tokenizer, [*_few(), *test], TINY)


def test_merge_adds_the_low_rank_product(source: Path) -> None:
    import torch

    model = _plain(source)
    rng = np.random.default_rng(0)
    layer = model.encoder.layer[3].intermediate.dense
    before = layer.weight.detach().clone()
    a = rng.standard_normal((4, layer.in_features)).astype(np.float32)
    b = rng.standard_normal((layer.out_features, 4)).astype(np.float32)
    assert merge(model, {"layer.3.intermediate.dense.A": a, "layer.3.intermediate.dense.B": b}) == 1
    x = torch.from_numpy(rng.standard_normal((2, layer.in_features)).astype(np.float32))
    low_rank = (x @ torch.from_numpy(a).T) @ torch.from_numpy(b).T
    expected = x @ before.T + layer.bias.detach() + low_rank
    assert torch.allclose(layer(x).detach(), expected, atol=1e-3)
    with pytest.raises(ClassifierError, match="delta"):
        merge(model, {"layer.0.attention.self.query.A": a, "layer.0.attention.self.query.B": b})


def test_shipped_adapter_is_small_and_whole() -> None:
    arrays = load_adapter(ADAPTER_FILE)
    assert len(arrays) == 2 * 6 * len(TARGETS) + len(SOFTMAX)
    # rank 64, float16: about 5.3 MB; a full fine-tune would be 22 MB and is not shipped
    assert ADAPTER_FILE.stat().st_size < 6_000_000
    assert (
        load_head(WEIGHTS_DIR).meta["adapter_sha256"]
        == hashlib.sha256(ADAPTER_FILE.read_bytes()).hexdigest()
    ), "the head was trained on another adapter: run `redline train`"


def test_unreadable_or_malformed_adapter_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "adapter.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ClassifierError, match="unreadable"):
        load_adapter(bad)
    save_adapter({"layer.0.attention.self.query.A": np.zeros((2, 384), np.float32)}, bad)
    with pytest.raises(ClassifierError, match="partner"):
        load_adapter(bad)


def test_model_head_and_adapter_must_match(tmp_path: Path) -> None:
    meta = read_meta(default_model_dir())
    head = load_head(WEIGHTS_DIR)
    check_adapter(meta, ADAPTER_FILE, head)  # as shipped and built: accepted
    other = tmp_path / "adapter.npz"
    save_adapter({k: v + 1 for k, v in load_adapter(ADAPTER_FILE).items()}, other)
    with pytest.raises(ClassifierError, match="redline train"):
        check_adapter(meta, other, head)  # the head was trained on another adapter
    with pytest.raises(ClassifierError, match="redline model build"):
        check_adapter(meta, other)  # the model was built with another adapter
    with pytest.raises(ClassifierError, match="built with adapter none"):
        check_adapter({**meta, "adapter": None}, ADAPTER_FILE, head)
