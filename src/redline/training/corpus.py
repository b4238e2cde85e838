"""The labelled corpus in data/*.jsonl and its fixed split by group.

A line is `{"id", "category", "group", one of "text" | "messages" | "tool_call",
optional "also": [...], optional "hard_negative_of": ...}`. The split is a function of the
group alone, so paraphrases of one example never straddle train and test:

    h = int(sha256(group).hexdigest()[:8], 16)
    test        iff h % 5 == 0
    validation  iff h % 5 == 1   (taken from the training side)
    train       otherwise
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from redline.errors import InputError
from redline.subject import Subject
from redline.taxonomy import CATEGORIES

Split = Literal["train", "validation", "test"]
SPLITS: tuple[Split, ...] = ("train", "validation", "test")
DEFAULT_DATA_DIR = Path("data")


@dataclass(frozen=True)
class Example:
    id: str
    category: str
    group: str
    subject: Subject
    also: tuple[str, ...] = ()
    hard_negative_of: str | None = None
    raw: str = ""  # the canonical JSON of the line, for hashing

    @property
    def labels(self) -> frozenset[str]:
        """Every category the example belongs to: its category and its `also` labels."""
        return frozenset((self.category, *self.also))

    @property
    def split(self) -> Split:
        return split_of(self.group)


def group_hash(group: str) -> int:
    return int(hashlib.sha256(group.encode("utf-8")).hexdigest()[:8], 16)


def fold_of(group: str) -> int:
    """The group's fold, 0-4: fold 0 is the test split, fold 1 validation, 2-4 train. The
    head is cross-fitted over folds 1-4 (train.py)."""
    return group_hash(group) % 5


def split_of(group: str) -> Split:
    fold = fold_of(group)
    if fold == 0:
        return "test"
    return "validation" if fold == 1 else "train"


def _subject_of(obj: dict[str, Any]) -> Subject:
    fields = {k: obj[k] for k in ("text", "messages", "tool_call") if k in obj}
    return Subject.model_validate(fields)


def parse_line(line: str, source: str = "") -> Example:
    try:
        obj = json.loads(line)
        category = str(obj["category"])
        also = tuple(str(c) for c in obj.get("also") or ())
        for c in (category, *also):
            if c not in CATEGORIES:
                raise ValueError(f"unknown category {c!r}")
        hn = obj.get("hard_negative_of")
        return Example(
            id=str(obj["id"]),
            category=category,
            group=str(obj.get("group") or obj["id"]),
            subject=_subject_of(obj),
            also=also,
            hard_negative_of=str(hn) if hn is not None else None,
            raw=json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":")),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{source}: not a corpus line: {exc}") from exc


def load_file(path: Path) -> list[Example]:
    out: list[Example] = []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if line.strip():
                out.append(parse_line(line, f"{path}:{n}"))
    return out


def corpus_files(data_dir: Path = DEFAULT_DATA_DIR) -> list[Path]:
    return sorted(data_dir.glob("*.jsonl"))


def load_corpus(
    data_dir: Path = DEFAULT_DATA_DIR, splits: Iterable[Split] = SPLITS
) -> list[Example]:
    """Every example of the chosen splits, sorted by id (so training is order-free)."""
    wanted = set(splits)
    examples = [e for p in corpus_files(data_dir) for e in load_file(p) if e.split in wanted]
    examples.sort(key=lambda e: e.id)
    ids = [e.id for e in examples]
    if len(ids) != len(set(ids)):
        dup = sorted({i for i in ids if ids.count(i) > 1})[:5]
        raise InputError(f"duplicate example ids in {data_dir}: {dup}")
    return examples


def data_hash(examples: Sequence[Example]) -> str:
    """SHA-256 over the canonical lines of `examples`, in id order: what a head was fit on."""
    h = hashlib.sha256()
    for e in sorted(examples, key=lambda e: e.id):
        h.update(e.raw.encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()


def training_side(data_dir: Path = DEFAULT_DATA_DIR) -> list[Example]:
    """Train and validation: everything training may read. Never the test split."""
    return load_corpus(data_dir, ("train", "validation"))
