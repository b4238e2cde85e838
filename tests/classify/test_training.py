"""Training is deterministic, never reads the test split, and the shipped head matches data/."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from redline.classify.head import WEIGHTS_DIR, load_head
from redline.errors import ClassifierError
from redline.taxonomy import CATEGORIES
from redline.training.config import TrainConfig
from redline.training.corpus import (
    Example,
    data_hash,
    group_hash,
    load_corpus,
    split_of,
    training_side,
)
from redline.training.fit import Encoder
from redline.training.folds import encoder_code_hash, fold_splits
from redline.training.train import train, train_and_save


@dataclass(frozen=True)
class FakeWindow:
    index: int
    char_start: int
    char_end: int
    vector: npt.NDArray[np.float32]


class FakeEmbedder:
    """Deterministic stand-in: a text's vector is seeded by its hash (no model needed)."""

    model_version = "f" * 64

    def embed_windows(self, texts: Sequence[str]) -> list[list[FakeWindow]]:
        out = []
        for t in texts:
            seed = int(hashlib.sha256(t.encode()).hexdigest()[:8], 16)
            v = np.random.default_rng(seed).standard_normal(384).astype(np.float32)
            out.append([FakeWindow(0, 0, len(t), v / np.linalg.norm(v))])
        return out


def _small_subset() -> list[Example]:
    picked: list[Example] = []
    side = training_side()
    for split, n in (("train", 5), ("validation", 3)):
        for c in CATEGORIES:
            picked += [e for e in side if e.category == c and e.split == split][:n]
    return picked


SMALL = TrainConfig(c_grid=(4.0,), unit_modes=("all",), band_grid=(0.0, 0.1))
FAKE = Encoder(FakeEmbedder())
FOLDS = {k: FAKE for k in SMALL.folds}


def test_split_rule_is_the_documented_one() -> None:
    for group in ("a", "co-wiper", "ts-phone-dossier", "x" * 50):
        h = int(hashlib.sha256(group.encode()).hexdigest()[:8], 16)
        assert group_hash(group) == h
        assert split_of(group) == (
            "test" if h % 5 == 0 else "validation" if h % 5 == 1 else "train"
        )


def test_training_side_never_holds_test_examples() -> None:
    side = training_side()
    assert side and all(e.split != "test" for e in side)
    test = load_corpus(splits=("test",))
    assert test and not {e.group for e in side} & {e.group for e in test}


def test_train_refuses_test_examples() -> None:
    test = load_corpus(splits=("test",))[:3]
    with pytest.raises(ValueError, match="test"):
        train([*_small_subset(), *test], FOLDS, FAKE, SMALL)


def test_every_example_is_held_out_once_by_a_fold_that_never_fitted_it() -> None:
    side = training_side()
    splits = fold_splits(side, TrainConfig().folds)
    held = [e.id for _, _, inside in splits for e in inside]
    assert sorted(held) == sorted(e.id for e in side)
    for _, rest, inside in splits:
        assert not {e.group for e in rest} & {e.group for e in inside}
    # Fold 1 is the validation split, fitted on the train split: the split rule's reading.
    assert {e.id for e in splits[0][2]} == {e.id for e in side if e.split == "validation"}


def test_train_wants_an_encoder_per_fold() -> None:
    with pytest.raises(ValueError, match="folds"):
        train(_small_subset(), {1: FAKE}, FAKE, SMALL)


def test_one_fold_chooses_on_the_validation_split_alone() -> None:
    # `redline train --folds 1`: two adapters instead of five on a 2-core machine.
    subset = _small_subset()
    _, meta = train(subset, {1: FAKE}, FAKE, replace(SMALL, folds=(1,)))
    assert meta["folds"] == [1]
    assert meta["n_held_out"] == sum(e.split == "validation" for e in subset)


def test_training_is_deterministic(tmp_path: Path) -> None:
    subset = _small_subset()
    a = train_and_save(subset, FOLDS, FAKE, tmp_path / "a", SMALL)
    b = train_and_save(list(reversed(subset)), FOLDS, FAKE, tmp_path / "b", SMALL)
    for name in ("head.npz", "head.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert a.sha256 == b.sha256
    head = load_head(tmp_path / "a")
    assert head.sha256 == a.sha256 and head.categories == CATEGORIES


def test_shipped_head_loads_and_matches_data() -> None:
    head = load_head(WEIGHTS_DIR)
    assert head.categories == CATEGORIES
    assert head.meta["train_data_sha256"] == data_hash(training_side()), (
        "data/ changed since the head was trained: run `redline train`"
    )
    assert (WEIGHTS_DIR / "head.npz").stat().st_size < 2_000_000
    for c in CATEGORIES:
        assert 0.0 < head.thresholds.of(c) < 1.0
        assert 0.0 <= head.thresholds.band_of(c) < head.thresholds.of(c)


def test_missing_head_is_a_classifier_error(tmp_path: Path) -> None:
    with pytest.raises(ClassifierError, match="redline train"):
        load_head(tmp_path)


def test_fold_encoder_cache_goes_stale_when_encoder_code_changes(tmp_path: Path) -> None:
    """A cached fold encoder is keyed on the code that trained it: a normalising or
    tokenising change must retrain it, not serve a stale one."""
    package = Path(train.__code__.co_filename).parent.parent
    for folder in ("classify", "training"):
        (tmp_path / folder).mkdir()
        for source in (package / folder).glob("*.py"):
            (tmp_path / folder / source.name).write_bytes(source.read_bytes())
    before = encoder_code_hash(tmp_path)
    assert before == encoder_code_hash(package)
    (tmp_path / "classify" / "head.py").write_text("# not an encoder module\n", encoding="utf-8")
    assert encoder_code_hash(tmp_path) == before
    with (tmp_path / "classify" / "normalize.py").open("a", encoding="utf-8") as f:
        f.write("\n# changed\n")
    assert encoder_code_hash(tmp_path) != before
