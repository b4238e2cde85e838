"""Sentence embeddings at run time: the int8 ONNX export of all-MiniLM-L6-v2, no torch.

`redline model build` writes minilm-int8.onnx, tokenizer.json and model.json. The model
version is named by the weights (`weights_version`): the same weights, the same version on
every machine. Text longer than one window (256 tokens with [CLS]/[SEP]) is split into
overlapping windows, each embedded on its own and unpadded, since dynamic int8 quantisation
scales over the whole input tensor and batch-mates would shift a vector. Latency comes from
`threads` inside a window (vectors stay bit-identical, tested), throughput from `workers`.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from tokenizers import Tokenizer

from redline.errors import ClassifierError

MODEL_FILE = "minilm-int8.onnx"
TOKENIZER_FILE = "tokenizer.json"
META_FILE = "model.json"
MODEL_DIR_ENV = "REDLINE_MODEL_DIR"

WINDOW_TOKENS = 256  # including [CLS] and [SEP]
OVERLAP_TOKENS = 64
MAX_POSITIONS = 512

Vector = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Window:
    """One embedded slice of a text. Token indices count the text's own tokens (no [CLS]/[SEP]),
    end exclusive; char_start:char_end slices the original string."""

    index: int
    token_start: int
    token_end: int
    char_start: int
    char_end: int
    vector: Vector = field(repr=False, compare=False)


@dataclass(frozen=True)
class _Span:
    index: int
    token_start: int
    token_end: int
    char_start: int
    char_end: int
    ids: tuple[int, ...]  # with [CLS]/[SEP]


def default_model_dir() -> Path:
    """$REDLINE_MODEL_DIR, else ./var/model relative to the current directory."""
    return Path(os.environ.get(MODEL_DIR_ENV) or "var/model").expanduser()


def load_tokenizer(data: str) -> Tokenizer:
    """A tokenizer from tokenizer.json text, with its fixed 128-token padding and truncation
    removed: windowing decides lengths, and nothing may be cut off silently."""
    tokenizer = Tokenizer.from_str(data)
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ClassifierError(f"{what} not found at {path}: run `redline model build`") from None
    except OSError as exc:
        raise ClassifierError(f"cannot read {what} at {path}: {exc}") from exc


def _check_hash(path: Path, data: bytes, expected: str | None) -> str:
    got = sha256_bytes(data)
    if expected is not None and got != expected:
        raise ClassifierError(
            f"{path} has sha256 {got} but model.json expects {expected}: "
            "the file was changed or is from another build; run `redline model build`"
        )
    return got


def _session(model_path: Path, model_bytes: bytes, threads: int) -> Any:
    """An ONNX Runtime session on the CPU, `threads` threads inside an operator."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    # Workers spin between the operators of a run, and stop when it returns: left
    # spinning they burnt 42 ms of CPU per idle 50 ms, a core the event loop and the
    # upstream need; never spinning, each operator waits to wake one (a 62-token input:
    # 8.2 ms, against 6.8 ms this way).
    opts.add_session_config_entry("session.force_spinning_stop", "1")
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    try:
        return ort.InferenceSession(model_bytes, opts, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ClassifierError(f"cannot load embedding model {model_path}: {exc}") from exc


class Embedder:
    """all-MiniLM-L6-v2 sentence embeddings: mean-pooled, L2-normalised, 384 float32s."""

    def __init__(
        self,
        model_path: Path,
        tokenizer_path: Path,
        *,
        expected_sha256: str | None = None,
        expected_tokenizer_sha256: str | None = None,
        version: str | None = None,
        threads: int = 1,
        workers: int = 1,
        window: int = WINDOW_TOKENS,
        overlap: int = OVERLAP_TOKENS,
    ) -> None:
        if not 8 <= window <= MAX_POSITIONS:
            raise ValueError(f"window must be in [8, {MAX_POSITIONS}] tokens, got {window}")
        if not 0 <= overlap < window - 2:
            raise ValueError(f"overlap must be in [0, {window - 2}), got {overlap}")
        if threads < 1 or workers < 1:
            raise ValueError("threads and workers must be at least 1")

        # Hash the very bytes that get loaded, so the version cannot drift from the weights.
        model_bytes = _read(model_path, "embedding model")
        file_sha256 = _check_hash(model_path, model_bytes, expected_sha256)
        self._version = version or file_sha256
        tok_bytes = _read(tokenizer_path, "tokenizer")
        _check_hash(tokenizer_path, tok_bytes, expected_tokenizer_sha256)

        try:
            self._tokenizer = load_tokenizer(tok_bytes.decode("utf-8"))
        except Exception as exc:
            raise ClassifierError(f"cannot load tokenizer {tokenizer_path}: {exc}") from exc
        cls_id = self._tokenizer.token_to_id("[CLS]")
        sep_id = self._tokenizer.token_to_id("[SEP]")
        if cls_id is None or sep_id is None:
            raise ClassifierError(f"tokenizer {tokenizer_path} lacks [CLS]/[SEP]")
        self._cls: int = cls_id
        self._sep: int = sep_id
        self._session: Any = _session(model_path, model_bytes, threads)
        inputs = {i.name for i in self._session.get_inputs()}
        self._token_types = "token_type_ids" in inputs
        self._dim = int(self._session.get_outputs()[0].shape[-1])

        self.model_path = model_path
        self.threads = threads
        self.workers = workers
        self.window = window
        self.overlap = overlap
        self.stride = window - 2 - overlap
        self._pool = ThreadPoolExecutor(workers) if workers > 1 else None

    @property
    def model_version(self) -> str:
        """The weights' version (`weights_version`) where model.json names them, else the
        SHA-256 of the ONNX file."""
        return self._version

    @property
    def dim(self) -> int:
        return self._dim

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()

    def token_count(self, text: str) -> int:
        """Tokens in `text`, without [CLS]/[SEP]."""
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def embed(self, texts: Sequence[str]) -> Vector:
        """One L2-normalised row per text. A text spanning several windows gets the
        token-weighted mean of its window vectors, renormalised."""
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for i, windows in enumerate(self.embed_windows(texts)):
            if len(windows) == 1:
                out[i] = windows[0].vector
                continue
            weights = np.array([w.token_end - w.token_start for w in windows], dtype=np.float32)
            mean = weights @ np.stack([w.vector for w in windows])
            out[i] = mean / max(float(np.linalg.norm(mean)), 1e-12)
        return out

    def embed_windows(self, texts: Sequence[str]) -> list[list[Window]]:
        """Every window of every text, in order, each with its vector."""
        if isinstance(texts, str):
            raise TypeError("embed a sequence of strings, not a single str")
        spans = [self._spans(enc) for enc in self._encode(texts)]
        flat = [s for per_text in spans for s in per_text]
        # Longest first so concurrent workers finish together.
        order = sorted(range(len(flat)), key=lambda k: -len(flat[k].ids))
        vectors: list[Vector | None] = [None] * len(flat)
        for k, computed in zip(order, self._run([flat[k].ids for k in order]), strict=True):
            vectors[k] = computed
        result: list[list[Window]] = []
        k = 0
        for per_text in spans:
            row = []
            for s in per_text:
                vec = vectors[k]
                assert vec is not None
                row.append(
                    Window(s.index, s.token_start, s.token_end, s.char_start, s.char_end, vec)
                )
                k += 1
            result.append(row)
        return result

    def _encode(self, texts: Sequence[str]) -> list[Any]:
        try:
            # encode(), not encode_batch(): no rayon pool competing with ORT for the cores,
            # and no fork-after-parallelism hazard under pre-forking servers.
            return [self._tokenizer.encode(t, add_special_tokens=False) for t in texts]
        except Exception as exc:
            raise ClassifierError(f"tokenisation failed: {exc}") from exc

    def _spans(self, enc: Any) -> list[_Span]:
        ids: list[int] = enc.ids
        offsets: list[tuple[int, int]] = enc.offsets
        n = len(ids)
        size = self.window - 2
        if n == 0:
            return [_Span(0, 0, 0, 0, 0, (self._cls, self._sep))]
        # Fewest windows with steps <= stride, spread evenly: every window is full length
        # and no two are near-duplicates.
        steps = -(-max(n - size, 0) // self.stride)
        starts = (
            [(j * (n - size) + steps // 2) // steps for j in range(steps + 1)] if steps else [0]
        )
        return [
            _Span(
                index=i,
                token_start=a,
                token_end=min(a + size, n),
                char_start=offsets[a][0],
                char_end=offsets[min(a + size, n) - 1][1],
                ids=(self._cls, *ids[a : a + size], self._sep),
            )
            for i, a in enumerate(starts)
        ]

    def _run(self, batch: list[tuple[int, ...]]) -> Iterator[Vector]:
        if self._pool is None or len(batch) < 2:
            return map(self._infer, batch)
        return self._pool.map(self._infer, batch)

    def _infer(self, ids: tuple[int, ...]) -> Vector:
        input_ids = np.array([ids], dtype=np.int64)
        feed = {"input_ids": input_ids, "attention_mask": np.ones_like(input_ids)}
        if self._token_types:
            feed["token_type_ids"] = np.zeros_like(input_ids)
        try:
            hidden = self._session.run(None, feed)[0]
        except Exception as exc:
            raise ClassifierError(f"embedding model failed: {exc}") from exc
        # Unpadded, so mean pooling over every token equals sentence-transformers' masked mean.
        mean: Vector = np.asarray(hidden[0], dtype=np.float32).mean(axis=0)
        return mean / np.float32(max(float(np.linalg.norm(mean)), 1e-12))


def read_meta(model_dir: Path) -> dict[str, Any]:
    path = model_dir / META_FILE
    try:
        meta = json.loads(_read(path, "model.json"))
    except json.JSONDecodeError as exc:
        raise ClassifierError(
            f"{path} is not valid JSON ({exc}): run `redline model build`"
        ) from exc
    if not isinstance(meta, dict) or not isinstance(meta.get("sha256"), str):
        raise ClassifierError(f"{path} has no sha256: run `redline model build`")
    return meta


def weights_version(meta: Mapping[str, Any]) -> str | None:
    """SHA-256 over what the weights are made of: the source weights, the adapter merged
    into them, the tokenizer and the export and quantisation recipe. Not the ONNX file's
    bytes, which differ by machine in the last bits of a float; the file's hash stays its
    integrity check. None where model.json does not name the source weights."""
    source = meta.get("source")
    if not isinstance(source, dict) or not isinstance(source.get("weights_sha256"), str):
        return None
    adapter = meta.get("adapter")
    quantisation = meta.get("quantisation")
    export = meta.get("export")
    made_of = {
        "source_weights": source["weights_sha256"],
        "adapter": adapter.get("sha256") if isinstance(adapter, dict) else None,
        "tokenizer": meta.get("tokenizer"),
        "embedding": meta.get("embedding"),
        "opset": export.get("opset") if isinstance(export, dict) else None,
        "quantisation": quantisation,
    }
    return sha256_bytes(json.dumps(made_of, sort_keys=True).encode("utf-8"))


def load_embedder(
    model_dir: Path | None = None,
    *,
    threads: int = 1,
    workers: int = 1,
    meta: Mapping[str, Any] | None = None,
) -> Embedder:
    """The embedder built by `redline model build`, verified against its model.json, or
    against `meta` where the caller has read (and checked) it already: one reading, so the
    file loaded is the one the caller's checks were about."""
    directory = default_model_dir() if model_dir is None else Path(model_dir)
    meta = read_meta(directory) if meta is None else meta
    tok = meta.get("tokenizer")
    tok_sha = tok.get("sha256") if isinstance(tok, dict) else None
    emb = meta.get("embedding")
    params = emb if isinstance(emb, dict) else {}
    return Embedder(
        directory / MODEL_FILE,
        directory / TOKENIZER_FILE,
        expected_sha256=meta["sha256"],
        expected_tokenizer_sha256=tok_sha if isinstance(tok_sha, str) else None,
        version=weights_version(meta),
        threads=threads,
        workers=workers,
        window=int(params.get("window_tokens", WINDOW_TOKENS)),
        overlap=int(params.get("overlap_tokens", OVERLAP_TOKENS)),
    )
