"""The trained head at inference: plain numpy over a small weights file.

`head.npz` holds, per category, a one-vs-rest linear scorer over a window's features (its
sentence embedding, then word and character-n-gram TF-IDF blocks) with a Platt calibration
of the subject-level score; and the restriction gate, a softmax scorer over the same
features whose calibrated log-odds of "some restricted category" at the primary unit's
strongest window is the probability that the use is restricted at all. `head.json` holds
the category order, vocabularies, thresholds, the restricted mass under which a use may be
allowed (`allow_below`), training data hash and metrics, and the SHA-256 of the adapter the
head was trained on (the classifier refuses a model built with another).
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from redline.classify.features import Lexicon
from redline.classify.types import Thresholds
from redline.errors import ClassifierError

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
# The embedding's adapter (training/adapter.py), merged into the model at build time.
ADAPTER_FILE = WEIGHTS_DIR / "adapter.npz"
ARRAYS = (
    "coef",
    "intercept",
    "platt_a",
    "platt_b",
    "idf_word",
    "idf_char",
    "gate_coef",
    "gate_intercept",
    "gate_platt",
)
EMBED_DIM = 384
FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Head:
    categories: tuple[str, ...]
    lexicons: tuple[Lexicon, ...]  # word, char: their columns follow the embedding's
    coef: FloatArray  # (k, 384 + len(word vocab) + len(char vocab))
    intercept: FloatArray  # (k,)
    platt_a: FloatArray  # (k,)
    platt_b: FloatArray  # (k,)
    thresholds: Thresholds
    gate_coef: FloatArray  # (k, same width as coef): multinomial logits
    gate_intercept: FloatArray  # (k,)
    gate_platt: FloatArray  # (2,): a, b
    restricted: tuple[str, ...]  # the categories the gate's "restricted" side sums over
    meta: Mapping[str, Any] = field(default_factory=dict)
    sha256: str = ""

    def _linear(
        self, coef: FloatArray, intercept: FloatArray, vectors: FloatArray, texts: Sequence[str]
    ) -> FloatArray:
        out: FloatArray = vectors @ coef[:, :EMBED_DIM].T + intercept
        offset = EMBED_DIM
        for lex in self.lexicons:
            block = coef[:, offset : offset + len(lex.vocab)]
            for i, text in enumerate(texts):
                cols, vals = lex.row(text)
                if len(cols):
                    out[i] += block[:, cols] @ vals
            offset += len(lex.vocab)
        return out

    def window_logits(self, vectors: FloatArray, texts: Sequence[str]) -> FloatArray:
        """Raw scores of n windows -> (n, k + 1): the k one-vs-rest logits, then the gate's
        log-odds of restricted against allowed (one pass over both linear scorers)."""
        k = len(self.categories)
        both = self._linear(
            np.concatenate([self.coef, self.gate_coef]),
            np.concatenate([self.intercept, self.gate_intercept]),
            vectors,
            texts,
        )
        restricted = np.array([c in self.restricted for c in self.categories])
        soft = both[:, k:].astype(np.float64)
        gate = _logsumexp(soft[:, restricted]) - _logsumexp(soft[:, ~restricted])
        out: FloatArray = np.concatenate([both[:, :k], gate[:, None]], axis=1).astype(np.float32)
        return out

    def logits(self, vectors: FloatArray, texts: Sequence[str]) -> FloatArray:
        """Raw one-vs-rest scores of n windows (their embeddings and their texts) -> (n, k)."""
        return self._linear(self.coef, self.intercept, vectors, texts)

    def calibrate(self, z: FloatArray) -> FloatArray:
        """Raw scores -> calibrated probabilities (monotone per category)."""
        t = np.clip(self.platt_a * z + self.platt_b, -40.0, 40.0)
        p: FloatArray = (1.0 / (1.0 + np.exp(-t))).astype(np.float32)
        return p

    def calibrate_gate(self, g: FloatArray) -> FloatArray:
        """Raw gate log-odds -> calibrated probability that the use is restricted."""
        t = np.clip(self.gate_platt[0] * g + self.gate_platt[1], -40.0, 40.0)
        p: FloatArray = (1.0 / (1.0 + np.exp(-t))).astype(np.float32)
        return p


def _logsumexp(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    top = x.max(axis=1, keepdims=True)
    out: npt.NDArray[np.float64] = (top + np.log(np.exp(x - top).sum(axis=1, keepdims=True)))[:, 0]
    return out


def npz_bytes(arrays: Mapping[str, npt.NDArray[Any]]) -> bytes:
    """An .npz written byte-for-byte reproducibly (fixed member order and timestamps)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for name in sorted(arrays):
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(arrays[name]))
            zf.writestr(info, member.getvalue())
    return buf.getvalue()


def npz_arrays(data: bytes) -> dict[str, npt.NDArray[np.float32]]:
    """Every array of .npz bytes as float32 (no pickles); ValueError or BadZipFile if bad."""
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        return {k: np.asarray(z[k], dtype=np.float32) for k in z.files}


def read_npz(path: Path, what: str) -> dict[str, npt.NDArray[np.float32]]:
    """Every array of an .npz file as float32; ClassifierError if it cannot be read."""
    try:
        return npz_arrays(path.read_bytes())
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise ClassifierError(f"{what} at {path} is unreadable: {exc}") from exc


def adapter_sha256(path: Path = ADAPTER_FILE) -> str | None:
    """SHA-256 of the adapter file, or None where there is none (the plain model)."""
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def head_sha256(npz: bytes, meta_json: bytes) -> str:
    return hashlib.sha256(npz + b"\0" + meta_json).hexdigest()


def save_head(head: Head, directory: Path = WEIGHTS_DIR) -> str:
    """Write head.npz and head.json; returns the head's SHA-256 (of both files)."""
    directory.mkdir(parents=True, exist_ok=True)
    lex = {x.kind: x for x in head.lexicons}
    arrays: dict[str, npt.NDArray[Any]] = {
        "coef": head.coef.astype(np.float16),
        "idf_word": lex["word"].idf.astype(np.float32),
        "idf_char": lex["char"].idf.astype(np.float32),
        "intercept": head.intercept.astype(np.float32),
        "platt_a": head.platt_a.astype(np.float32),
        "platt_b": head.platt_b.astype(np.float32),
        "gate_coef": head.gate_coef.astype(np.float16),
        "gate_intercept": head.gate_intercept.astype(np.float32),
        "gate_platt": head.gate_platt.astype(np.float32),
    }
    npz = npz_bytes(arrays)
    meta = dict(head.meta)
    meta["categories"] = list(head.categories)
    meta["restricted"] = list(head.restricted)
    for kind in ("word", "char"):
        meta[f"vocab_{kind}"] = sorted(lex[kind].vocab, key=lambda t: lex[kind].vocab[t])
    meta["threshold"] = {c: round(float(head.thresholds.of(c)), 6) for c in head.categories}
    meta["band"] = {c: round(float(head.thresholds.band_of(c)), 6) for c in head.categories}
    if head.thresholds.allow_below is not None:
        meta["allow_below"] = round(float(head.thresholds.allow_below), 6)
    if head.thresholds.answer_shift > 0.0:
        meta["answer_shift"] = round(float(head.thresholds.answer_shift), 6)
    meta_json = (json.dumps(meta, indent=2, sort_keys=True) + "\n").encode("utf-8")
    (directory / "head.npz").write_bytes(npz)
    (directory / "head.json").write_bytes(meta_json)
    return head_sha256(npz, meta_json)


def load_head(directory: Path = WEIGHTS_DIR) -> Head:
    npz_path, json_path = directory / "head.npz", directory / "head.json"
    if not npz_path.is_file() or not json_path.is_file():
        raise ClassifierError(
            f"the classifier head is missing ({npz_path}, {json_path}): run `redline train`"
        )
    try:
        npz, meta_json = npz_path.read_bytes(), json_path.read_bytes()
        meta = json.loads(meta_json)
        stored = npz_arrays(npz)
        arrays = {k: stored[k] for k in ARRAYS}
        categories = tuple(str(c) for c in meta["categories"])
        restricted = tuple(str(c) for c in meta["restricted"])
        lexicons = tuple(
            Lexicon(
                kind,
                {str(t): i for i, t in enumerate(meta[f"vocab_{kind}"])},
                arrays[f"idf_{kind}"],
            )
            for kind in ("word", "char")
        )
        thresholds = Thresholds(
            threshold={c: float(meta["threshold"][c]) for c in categories},
            band={c: float(meta["band"][c]) for c in categories},
            allow_below=float(meta["allow_below"]) if "allow_below" in meta else None,
            answer_shift=float(meta.get("answer_shift", 0.0)),
        )
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise ClassifierError(f"the classifier head in {directory} is unreadable: {exc}") from exc
    k = len(categories)
    width = EMBED_DIM + sum(len(x.vocab) for x in lexicons)
    if (
        arrays["coef"].shape != (k, width)
        or arrays["intercept"].shape != (k,)
        or arrays["gate_coef"].shape != (k, width)
        or arrays["gate_intercept"].shape != (k,)
        or arrays["gate_platt"].shape != (2,)
        or not set(restricted) <= set(categories)
    ):
        raise ClassifierError(f"the classifier head in {directory} has inconsistent shapes")
    return Head(
        categories=categories,
        lexicons=lexicons,
        coef=arrays["coef"],
        intercept=arrays["intercept"],
        platt_a=arrays["platt_a"],
        platt_b=arrays["platt_b"],
        thresholds=thresholds,
        gate_coef=arrays["gate_coef"],
        gate_intercept=arrays["gate_intercept"],
        gate_platt=arrays["gate_platt"],
        restricted=restricted,
        meta=meta,
        sha256=head_sha256(npz, meta_json),
    )
