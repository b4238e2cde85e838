"""A low-rank adapter (LoRA) that fits all-MiniLM-L6-v2 to the taxonomy of use.

The shipped sentence embedding reads topic ("the history of sarin attacks" lands next to
"make sarin"); fine-tuning it with a softmax over the categories pulls uses apart. The change
is kept as two small matrices per dense layer (W' = W + B A), shipped in
`weights/adapter.npz` and merged by `redline model build` before export, so run time is
unchanged. Training is deterministic (sorted examples, seeded draws, deterministic kernels);
torch is imported inside functions only. docs/training.md gives how its settings were chosen.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from redline.classify.features import units
from redline.classify.head import ADAPTER_FILE, npz_bytes, read_npz
from redline.errors import ClassifierError
from redline.taxonomy import CATEGORIES
from redline.training.corpus import Example

# Every dense layer of every encoder layer: attention Q, K, V and output, FFN up and down.
TARGETS = (
    "attention.self.query",
    "attention.self.key",
    "attention.self.value",
    "attention.output.dense",
    "intermediate.dense",
    "output.dense",
)
_KEY = re.compile(r"^layer\.(\d+)\.([a-z.]+)\.(A|B)$")
# The softmax layer trained with the adapter (logits already times `scale`): the head may
# take it as its restriction gate (train.py chooses on validation).
SOFTMAX = ("softmax.weight", "softmax.bias")
Arrays = Mapping[str, npt.NDArray[np.float32]]
Progress = Callable[[str], None]


@dataclass(frozen=True)
class AdapterConfig:
    rank: int = 64
    epochs: int = 3  # 6 until round 8: five adapters on the grown corpus had to fit 2 CPUs
    learning_rate: float = 1e-3
    softmax_learning_rate: float = 2e-3  # the linear layer over the categories
    batch_size: int = 16
    max_tokens: int = 256  # one window; a longer input keeps its end, where the ask usually is
    scale: float = 20.0  # cosine logits x scale: a softmax over unit vectors needs a temperature
    warmup: float = 0.06
    seed: int = 0
    threads: int = 2  # fixed, so the same machine type trains the same bytes anywhere


def load_adapter(path: Path = ADAPTER_FILE) -> dict[str, npt.NDArray[np.float32]]:
    """The adapter's matrices by name (`layer.<i>.<target>.A|B`), checked for shape."""
    arrays = read_npz(path, "the classifier adapter")
    for name, value in arrays.items():
        if name in SOFTMAX:
            continue
        m = _KEY.match(name)
        if m is None or m.group(2) not in TARGETS or value.ndim != 2:
            raise ClassifierError(f"{path}: unexpected array {name!r} of shape {value.shape}")
        other = arrays.get(name[:-1] + ("B" if m.group(3) == "A" else "A"))
        if other is None or other.ndim != 2:
            raise ClassifierError(f"{path}: {name!r} has no partner matrix")
        rank = value.shape[0] if m.group(3) == "A" else value.shape[1]
        if rank != (other.shape[1] if m.group(3) == "A" else other.shape[0]):
            raise ClassifierError(f"{path}: the ranks of {name!r} and its partner differ")
    return arrays


def save_adapter(arrays: Arrays, path: Path = ADAPTER_FILE) -> str:
    """Write the adapter as float16, byte-for-byte reproducibly; returns its SHA-256."""
    data = npz_bytes({k: np.asarray(v, dtype=np.float16) for k, v in arrays.items()})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def merge(model: Any, arrays: Arrays) -> int:
    """W += B @ A on the torch model's dense layers, in place; returns how many were changed.

    The sum is formed in float64 and rounded once to float32: float32 products would round
    differently with each BLAS and thread count, so the same adapter would build different
    weights on different machines."""
    import torch

    layers = model.encoder.layer
    changed = 0
    with torch.no_grad():
        for name, a in sorted(arrays.items()):
            m = _KEY.match(name)
            if m is None or m.group(3) != "A":
                continue
            i, target = int(m.group(1)), m.group(2)
            if i >= len(layers):
                raise ClassifierError(f"the adapter names layer {i}; the model has {len(layers)}")
            linear = _module(layers[i], target)
            b = arrays[f"layer.{i}.{target}.B"]
            delta = np.asarray(b, np.float64) @ np.asarray(a, np.float64)
            if tuple(delta.shape) != tuple(linear.weight.shape):
                raise ClassifierError(
                    f"adapter {name}: delta {tuple(delta.shape)}, "
                    f"layer weight {tuple(linear.weight.shape)}"
                )
            merged = linear.weight.detach().cpu().numpy().astype(np.float64) + delta
            linear.weight.copy_(torch.from_numpy(merged.astype(np.float32)))
            changed += 1
    return changed


def _module(root: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        root = getattr(root, part)
    return root


def training_ids(tokenizer: Any, examples: Sequence[Example], max_tokens: int) -> list[list[int]]:
    """Token ids of each example's whole (its primary unit): [CLS] + the last tokens + [SEP]."""
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    out = []
    for e in examples:
        ids = tokenizer.encode(units(e.subject)[-1].text, add_special_tokens=False).ids
        out.append([cls, *ids[-(max_tokens - 2) :], sep])
    return out


def soft_labels(examples: Sequence[Example]) -> npt.NDArray[np.float32]:
    """An example with several labels is split evenly between them."""
    y = np.zeros((len(examples), len(CATEGORIES)), dtype=np.float32)
    for i, e in enumerate(examples):
        for c in e.labels:
            y[i, CATEGORIES.index(c)] = 1.0 / len(e.labels)
    return y


def fine_tune(
    model: Any,
    tokenizer: Any,
    examples: Sequence[Example],
    config: AdapterConfig | None = None,
    progress: Progress | None = None,
) -> dict[str, npt.NDArray[np.float32]]:
    """Train an adapter on `examples` (never the test split) and return its matrices.

    1. Freeze the model; wrap each target layer as W x + B (A x), B starting at zero so
       training starts from the original embedding.
    2. Embed as at run time (mean-pooled, L2-normalised) and score with a linear layer over
       the categories; minimise class-balanced cross-entropy against the soft labels.
    3. Batches hold examples of similar length (less padding), in a seeded order per epoch;
       the learning rate warms up, then decays linearly to zero.
    """
    import torch

    config = config or AdapterConfig()
    examples = sorted(examples, key=lambda e: e.id)
    if any(e.split == "test" for e in examples):
        raise ValueError("the adapter was handed test-split examples")
    torch.manual_seed(config.seed)
    # Process-wide settings: put back as found, so a caller's torch work is not changed.
    deterministic, threads = torch.are_deterministic_algorithms_enabled(), torch.get_num_threads()
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(config.threads)
    try:
        return _train(torch, model, tokenizer, examples, config, progress)
    finally:
        torch.use_deterministic_algorithms(deterministic)
        torch.set_num_threads(threads)


def _train(
    torch: Any,
    model: Any,
    tokenizer: Any,
    examples: Sequence[Example],
    config: AdapterConfig,
    progress: Progress | None,
) -> dict[str, npt.NDArray[np.float32]]:
    model.requires_grad_(False)
    lora = _wrap(torch, model, config.rank)
    head = torch.nn.Linear(model.config.hidden_size, len(CATEGORIES))
    ids = training_ids(tokenizer, examples, config.max_tokens)
    y = soft_labels(examples)
    mass = y.sum(axis=0)
    weight = torch.tensor(y.sum() / (len(CATEGORIES) * np.maximum(mass, 1.0)))
    params = [p for pair in lora.values() for p in pair]
    optimiser = torch.optim.AdamW(
        [{"params": params}, {"params": head.parameters(), "lr": config.softmax_learning_rate}],
        lr=config.learning_rate,
        weight_decay=0.01,
    )
    order = np.argsort([len(x) for x in ids], kind="stable")
    batches = [order[i : i + config.batch_size] for i in range(0, len(order), config.batch_size)]
    total = config.epochs * len(batches)
    warm = max(1.0, config.warmup * total)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min(1.0, (s + 1) / warm) * max(0.0, (total - s) / total)
    )
    rng = np.random.default_rng(config.seed)
    model.train()
    for epoch in range(config.epochs):
        seen, running = 0, 0.0
        for k in rng.permutation(len(batches)):
            batch = batches[k]
            logits = head(_pool(torch, model, [ids[j] for j in batch])) * config.scale
            target = torch.from_numpy(y[batch])
            loss = -(target * torch.log_softmax(logits, dim=-1) * weight).sum(dim=-1).mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            seen, running = seen + 1, running + loss.item()
        if progress:
            progress(f"adapter epoch {epoch + 1}/{config.epochs}: loss {running / seen:.3f}")
    model.eval()
    _unwrap(model, lora)
    out = {
        name: pair[i].detach().numpy().astype(np.float32)
        for key, pair in sorted(lora.items())
        for i, name in enumerate((f"{key}.A", f"{key}.B"))
    }
    out["softmax.weight"] = head.weight.detach().numpy() * np.float32(config.scale)
    out["softmax.bias"] = head.bias.detach().numpy() * np.float32(config.scale)
    return out


def softmax_gate(
    arrays: Arrays, width: int
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]] | None:
    """The adapter's softmax layer as a gate over a head's features (embedding first, the
    lexical columns zero), or None if the adapter has none."""
    if not all(k in arrays for k in SOFTMAX):
        return None
    weight = np.asarray(arrays["softmax.weight"], dtype=np.float32)
    coef = np.zeros((weight.shape[0], width), dtype=np.float32)
    coef[:, : weight.shape[1]] = weight
    return coef, np.asarray(arrays["softmax.bias"], dtype=np.float32)


def _pool(torch: Any, model: Any, batch: Sequence[Sequence[int]]) -> Any:
    """Mean-pooled, L2-normalised embeddings of a padded batch (as embed.py computes them)."""
    width = max(len(x) for x in batch)
    ids = torch.tensor([[*x] + [0] * (width - len(x)) for x in batch])
    mask = torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x in batch])
    hidden = model(
        input_ids=ids, attention_mask=mask, token_type_ids=torch.zeros_like(ids)
    ).last_hidden_state
    mean = (hidden * mask[..., None]).sum(dim=1) / mask.sum(dim=1, keepdim=True)
    return torch.nn.functional.normalize(mean, dim=-1)


def _wrap(torch: Any, model: Any, rank: int) -> dict[str, tuple[Any, Any]]:
    """Replace each target layer by a LoRA-wrapped one; returns {key: (A, B)}."""
    generator = torch.Generator().manual_seed(0)

    class LoRA(torch.nn.Module):  # type: ignore[misc]
        def __init__(self, base: Any) -> None:
            super().__init__()
            self.base = base
            scale = base.in_features**-0.5
            self.A = torch.nn.Parameter(
                torch.randn(rank, base.in_features, generator=generator) * scale
            )
            self.B = torch.nn.Parameter(torch.zeros(base.out_features, rank))

        def forward(self, x: Any) -> Any:
            return self.base(x) + (x @ self.A.T) @ self.B.T

    out: dict[str, tuple[Any, Any]] = {}
    for i, layer in enumerate(model.encoder.layer):
        for target in TARGETS:
            parent_name, _, leaf = target.rpartition(".")
            parent = _module(layer, parent_name)
            wrapped = LoRA(getattr(parent, leaf))
            setattr(parent, leaf, wrapped)
            out[f"layer.{i}.{target}"] = (wrapped.A, wrapped.B)
    return out


def _unwrap(model: Any, lora: Mapping[str, Any]) -> None:
    """Put the original layers back (unchanged: the adapter is returned, not merged)."""
    for key in lora:
        _, i, target = key.split(".", 2)
        parent_name, _, leaf = target.rpartition(".")
        parent = _module(model.encoder.layer[int(i)], parent_name)
        setattr(parent, leaf, getattr(parent, leaf).base)
