"""The trained head at inference: plain numpy over a small weights file.

`head.npz` holds, per category, a linear scorer (`coef` as float16, `intercept`) over a
window's features: its sentence embedding, then word and character-n-gram TF-IDF blocks
(`idf_word`, `idf_char`); and a Platt calibration (`platt_a`, `platt_b`) fitted on the
validation split to the subject-level score (the strongest window). `head.json` holds the
category order, both vocabularies (term i is column i of its block), the per-category
thresholds and uncertainty band, the training data hash and metrics.
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
ARRAYS = ("coef", "intercept", "platt_a", "platt_b", "idf_word", "idf_char")
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
    meta: Mapping[str, Any] = field(default_factory=dict)
    sha256: str = ""

    def logits(self, vectors: FloatArray, texts: Sequence[str]) -> FloatArray:
        """Raw linear scores of n windows (their embeddings and their texts) -> (n, k)."""
        out: FloatArray = vectors @ self.coef[:, :EMBED_DIM].T + self.intercept
        offset = EMBED_DIM
        for lex in self.lexicons:
            block = self.coef[:, offset : offset + len(lex.vocab)]
            for i, text in enumerate(texts):
                cols, vals = lex.row(text)
                if len(cols):
                    out[i] += block[:, cols] @ vals
            offset += len(lex.vocab)
        return out

    def calibrate(self, z: FloatArray) -> FloatArray:
        """Raw scores -> calibrated probabilities (monotone per category)."""
        t = np.clip(self.platt_a * z + self.platt_b, -40.0, 40.0)
        p: FloatArray = (1.0 / (1.0 + np.exp(-t))).astype(np.float32)
        return p


def _npz_bytes(arrays: Mapping[str, npt.NDArray[Any]]) -> bytes:
    """An .npz written byte-for-byte reproducibly (fixed member order and timestamps)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for name in sorted(arrays):
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(arrays[name]))
            zf.writestr(info, member.getvalue())
    return buf.getvalue()


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
    }
    npz = _npz_bytes(arrays)
    meta = dict(head.meta)
    meta["categories"] = list(head.categories)
    for kind in ("word", "char"):
        meta[f"vocab_{kind}"] = sorted(lex[kind].vocab, key=lambda t: lex[kind].vocab[t])
    meta["threshold"] = {c: round(float(head.thresholds.of(c)), 6) for c in head.categories}
    meta["band"] = {c: round(float(head.thresholds.band_of(c)), 6) for c in head.categories}
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
        with np.load(io.BytesIO(npz), allow_pickle=False) as z:
            arrays = {k: np.asarray(z[k], dtype=np.float32) for k in ARRAYS}
        categories = tuple(str(c) for c in meta["categories"])
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
        )
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise ClassifierError(f"the classifier head in {directory} is unreadable: {exc}") from exc
    k = len(categories)
    width = EMBED_DIM + sum(len(x.vocab) for x in lexicons)
    if arrays["coef"].shape != (k, width) or arrays["intercept"].shape != (k,):
        raise ClassifierError(f"the classifier head in {directory} has inconsistent shapes")
    return Head(
        categories=categories,
        lexicons=lexicons,
        coef=arrays["coef"],
        intercept=arrays["intercept"],
        platt_a=arrays["platt_a"],
        platt_b=arrays["platt_b"],
        thresholds=thresholds,
        meta=meta,
        sha256=head_sha256(npz, meta_json),
    )
