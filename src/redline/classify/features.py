"""What the model reads of a subject: the units to embed, and their windows.

Every segment is a unit (each turn with the system prompt and tool results, each tool call
read as text, each decoded blob). When a subject has more than one segment, the whole of
it joined is a unit too, so a use that only shows across turns is scored as a whole, and
so is the last exchange (the final two segments), so a late request is not drowned.
Each unit is embedded over overlapping windows (never truncated); a category's score is
its strongest window, and that window is the evidence.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from redline.classify.segments import segments
from redline.subject import Subject

WHOLE = "whole"
LAST_EXCHANGE = "the last two turns"


class WindowLike(Protocol):
    @property
    def index(self) -> int: ...
    @property
    def char_start(self) -> int: ...
    @property
    def char_end(self) -> int: ...
    @property
    def vector(self) -> npt.NDArray[np.float32]: ...


class EmbedderLike(Protocol):
    """The part of `redline.classify.embed.Embedder` the classifier uses."""

    @property
    def model_version(self) -> str: ...

    def embed_windows(self, texts: Sequence[str]) -> Sequence[Sequence[WindowLike]]: ...


@dataclass(frozen=True)
class Unit:
    where: str  # "text", "turn 3 (user)", "tool_call engage_target", "whole"
    text: str
    part: bool = False  # a ~CHUNK_WORDS run of a longer unit (see chunks())
    decoded: bool = False  # text decoded from a blob: always scored on its own


CHUNK_WORDS = 60
_SENTENCE_END = re.compile(r"(?<=[.!?;:\n])\s+")


def chunks(unit: Unit) -> list[Unit]:
    """A long unit also read in runs of whole sentences of about CHUNK_WORDS words, so a
    sentence is not drowned by the rest of its 256-token window."""
    if len(unit.text.split()) <= CHUNK_WORDS:
        return []
    parts: list[str] = []
    current: list[str] = []
    for sentence in _SENTENCE_END.split(unit.text):
        words = sentence.split()
        if current and len(current) + len(words) > CHUNK_WORDS:
            parts.append(" ".join(current))
            current = []
        current += words
        while len(current) > 2 * CHUNK_WORDS:  # one very long "sentence"
            parts.append(" ".join(current[:CHUNK_WORDS]))
            current = current[CHUNK_WORDS:]
    if current:
        parts.append(" ".join(current))
    n = len(parts)
    return [Unit(f"{unit.where}, part {i}/{n}", p, part=True) for i, p in enumerate(parts, 1)]


def units(subject: Subject) -> list[Unit]:
    """The units of one subject; the last one is its primary unit (the whole of it)."""
    segs = [Unit(s.where, s.text, decoded=s.decoded) for s in segments(subject)]
    if not segs:
        return [Unit("text", "")]
    extra = [c for s in segs for c in chunks(s)]
    if len(segs) == 1:
        return [*extra, segs[0]]
    # The last exchange on its own too: a request at the end of a long, innocent
    # conversation is not drowned by it (validation: miss 5.5% -> 4.8%, false-block
    # 9.0% -> 8.3%). A longer one is already read in runs by chunks().
    last = "\n".join(s.text for s in segs[-2:])
    if len(segs) > 2 and len(last.split()) <= 2 * CHUNK_WORDS:
        extra.append(Unit(LAST_EXCHANGE, last, part=True))
    return [*segs, *extra, Unit(WHOLE, "\n".join(s.text for s in segs))]


@dataclass(frozen=True)
class WindowRef:
    """One embedded window and where it came from, for evidence."""

    subject: int  # index of the subject in the batch
    unit: Unit
    primary: bool
    index: int
    count: int
    char_start: int
    char_end: int

    @property
    def text(self) -> str:
        return self.unit.text[self.char_start : self.char_end]

    def describe(self) -> str:
        span = f"chars {self.char_start}-{self.char_end}"
        if self.count > 1:
            return f"{self.unit.where}, window {self.index + 1}/{self.count} ({span})"
        return self.unit.where


@dataclass(frozen=True)
class Embedded:
    """Every window of a batch of subjects: one row of `vectors` per entry of `refs`."""

    vectors: npt.NDArray[np.float32]
    refs: tuple[WindowRef, ...]
    n_subjects: int


def embed_subjects(
    embedder: EmbedderLike, subjects: Sequence[Subject], *, primary_only: bool = False
) -> Embedded:
    """All units of all subjects, windowed and embedded in one batched call. With
    `primary_only` (a head that reads only the whole), the single turns are skipped: only
    the whole, its ~60-word runs and decoded blobs are embedded, which is all it scores."""
    all_units: list[tuple[int, Unit, bool]] = []
    for i, subject in enumerate(subjects):
        us = units(subject)
        for k, u in enumerate(us):
            primary = k == len(us) - 1
            if primary or u.part or u.decoded or not primary_only:
                all_units.append((i, u, primary))
    windows = embedder.embed_windows([u.text for _, u, _ in all_units])
    refs: list[WindowRef] = []
    rows: list[npt.NDArray[np.float32]] = []
    for (i, unit, primary), wins in zip(all_units, windows, strict=True):
        for w in wins:
            refs.append(WindowRef(i, unit, primary, w.index, len(wins), w.char_start, w.char_end))
            rows.append(np.asarray(w.vector, dtype=np.float32))
    vectors = np.stack(rows) if rows else np.zeros((0, 384), dtype=np.float32)
    return Embedded(vectors, tuple(refs), len(subjects))


# --- Lexical features -------------------------------------------------------------------
# Sentence embeddings place "the history of sarin attacks" close to "make sarin"; the words
# and character n-grams a request actually uses separate intent from topic. Both are
# TF-IDF (sublinear tf, smoothed idf, L2 per block) over a vocabulary fixed at training.

_WORD = re.compile(r"\w\w+")
CHAR_NGRAMS = (3, 4, 5)


def word_terms(text: str) -> list[str]:
    """Lower-cased words of two or more characters, and their bigrams."""
    tokens = _WORD.findall(text.lower())
    return tokens + [f"{a} {b}" for a, b in itertools.pairwise(tokens)]


def char_terms(text: str) -> list[str]:
    """Character 3-5-grams inside each whitespace-separated word, padded by a space."""
    out: list[str] = []
    for word in text.lower().split():
        padded = f" {word} "
        for n in CHAR_NGRAMS:
            out += [padded[i : i + n] for i in range(len(padded) - n + 1)]
    return out


TERMS = {"word": word_terms, "char": char_terms}


@dataclass(frozen=True)
class Lexicon:
    """One TF-IDF block: term -> column, and the idf of each column."""

    kind: str  # "word" or "char"
    vocab: Mapping[str, int]
    idf: npt.NDArray[np.float32]

    def row(self, text: str) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """The non-zero columns of one text and their L2-normalised weights."""
        counts = Counter(t for t in TERMS[self.kind](text) if t in self.vocab)
        if not counts:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        cols = np.fromiter((self.vocab[t] for t in counts), dtype=np.int64, count=len(counts))
        tf = np.fromiter(counts.values(), dtype=np.float32, count=len(counts))
        vals = (1.0 + np.log(tf)) * self.idf[cols]
        return cols, (vals / np.float32(np.linalg.norm(vals))).astype(np.float32)


def fit_lexicon(kind: str, texts: Sequence[str], min_df: int, max_terms: int) -> Lexicon:
    """Deterministic: terms ranked by document frequency then alphabetically."""
    df: Counter[str] = Counter()
    for text in texts:
        df.update(set(TERMS[kind](text)))
    ranked = sorted((t for t, n in df.items() if n >= min_df), key=lambda t: (-df[t], t))
    terms = sorted(ranked[:max_terms])
    n = len(texts)
    idf = np.array([np.log((1 + n) / (1 + df[t])) + 1.0 for t in terms], dtype=np.float32)
    return Lexicon(kind, {t: i for i, t in enumerate(terms)}, idf)
