"""Export the torch encoder to ONNX, fuse its attention, and quantise it to int8 with as
few fp32 nodes as keep it faithful to the torch model (the steps of `redline model build`).
torch and onnxruntime's tools are imported inside functions only."""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from redline.classify.embed import TOKENIZER_FILE, Embedder, Vector
from redline.errors import ClassifierError
from redline.training.check_set import CHECK_SENTENCES

OPSET = 17
# Fidelity: cosine of the int8 model's vectors to the torch model's, over CHECK_SENTENCES.
MIN_MEAN_COSINE = 0.995
MIN_COSINE = 0.99
Step = Callable[[str], Callable[[str], None]]


# Each rung: the per-layer blocks whose MatMul stays fp32, and whether fused attention does.
_FP32_LADDER: tuple[tuple[frozenset[str], bool], ...] = (
    (frozenset({"intermediate", "output"}), False),
    (frozenset({"intermediate", "output", "attention/output"}), False),
    (frozenset({"intermediate", "output", "attention/output"}), True),
)


_DENSE = re.compile(r"/encoder/layer\.(\d+)/(intermediate|output|attention/output)/dense/MatMul$")


def export(model: Any, path: Path) -> None:
    import torch

    class Encoder(torch.nn.Module):
        def __init__(self, bert: Any) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.last_hidden_state

    names = ["input_ids", "attention_mask", "token_type_ids"]
    ids = torch.full((2, 16), 2000, dtype=torch.long)
    mask = torch.ones_like(ids)
    mask[1, 10:] = 0  # a padded row, so tracing keeps the attention-mask path
    axes = {n: {0: "batch", 1: "sequence"} for n in [*names, "last_hidden_state"]}
    with warnings.catch_warnings():
        # The TorchScript exporter is deprecated but still exports BERT cleanly and in 2 s;
        # its tracer warnings concern control flow that is constant for this model.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Encoder(model).eval(),
            (ids, mask, torch.zeros_like(ids)),
            str(path),
            dynamo=False,
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=OPSET,
            do_constant_folding=True,
        )


def fuse(src: Path, dst: Path, heads: int, hidden: int) -> dict[str, int]:
    from onnxruntime.transformers import optimizer

    # opt_level=0: pattern fusions only, nothing specific to the build machine's CPU.
    opt = optimizer.optimize_model(
        str(src), model_type="bert", num_heads=heads, hidden_size=hidden, opt_level=0
    )
    opt.save_model_to_file(str(dst))
    stats = opt.get_fused_operator_statistics()
    return {k: int(v) for k, v in stats.items() if v}


def _fp32_nodes(path: Path, blocks: frozenset[str], attention: bool, layers: int) -> list[str]:
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    names: list[str] = []
    for node in graph.node:
        m = _DENSE.search(node.name)
        if (m and m.group(2) in blocks and node.op_type == "MatMul") or (
            attention and node.op_type == "Attention"
        ):
            names.append(node.name)
    found = sum(1 for n in names if (m := _DENSE.search(n)) and m.group(2) == "output")
    if found != layers:
        raise ClassifierError(f"expected {layers} FFN down-projection MatMuls, found {found}")
    return names


@contextmanager
def _quiet_logging() -> Iterator[None]:
    # quantize_dynamic logs a pre-processing hint on the root logger at WARNING.
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


def _quantise(src: Path, dst: Path, exclude: list[str]) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with _quiet_logging():
        quantize_dynamic(
            src,
            dst,
            per_channel=True,
            reduce_range=True,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=exclude,
            # Fused contrib ops defeat ONNX shape inference; their outputs are float.
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )


@dataclass(frozen=True)
class Quantised:
    """The int8 model that met the fidelity thresholds, and what it measured."""

    path: Path
    keep: list[str]
    mean: float
    low: float
    dim: int


def quantise_to_fidelity(
    fused: Path, tmp: Path, reference: Vector, layers: int, step: Step
) -> Quantised:
    """Quantise with the fewest fp32 nodes that keep the cosine to torch at the thresholds;
    ClassifierError where even the last rung of the ladder misses them."""
    mean = low = 0.0
    keep: list[str] = []
    for rung, (blocks, attention) in enumerate(_FP32_LADDER):
        done = step(f"Quantising to int8 (fp32 set {rung + 1}/{len(_FP32_LADDER)})…")
        keep = _fp32_nodes(fused, blocks, attention, layers)
        candidate = tmp / f"int8-{rung}.onnx"
        _quantise(fused, candidate, keep)
        embedder = Embedder(candidate, tmp / TOKENIZER_FILE)
        cosines = np.sum(embedder.embed(CHECK_SENTENCES) * reference, axis=1)
        dim = embedder.dim
        embedder.close()
        mean, low = float(cosines.mean()), float(cosines.min())
        ok = mean >= MIN_MEAN_COSINE and low >= MIN_COSINE
        done(
            f"int8 with {len(keep)} fp32 nodes: cosine mean {mean:.4f} min {low:.4f}"
            + ("" if ok else " [yellow](below threshold)[/]")
        )
        if ok:
            return Quantised(candidate, keep, mean, low, dim)
    raise ClassifierError(
        f"int8 model misses the fidelity thresholds (mean {mean:.4f} < "
        f"{MIN_MEAN_COSINE} or min {low:.4f} < {MIN_COSINE}) even with {len(keep)} "
        "nodes in fp32"
    )
