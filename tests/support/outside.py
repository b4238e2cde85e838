"""Text nobody on this team wrote, shared by the classifier bench and the corpus test.

The READMEs: an outside set the bench builds on the spot from the prose paragraphs of the long
descriptions of the distributions installed beside Redline, every one harmless. With the dev
sets (../shared/eval-dev/) it is measured only, never trained on:
tests/training/test_corpus_outside.py refuses a corpus line that shares a run of RUN words
with either.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

from redline.training.external import read_external

# Read where they live, never copied in: ../shared/eval-dev beside the checkout, or
# REDLINE_EVAL_DEV_DIR for a clone elsewhere.
BESIDE = Path(__file__).resolve().parents[3] / "shared" / "eval-dev"
DEV_DIR = Path(os.environ.get("REDLINE_EVAL_DEV_DIR") or BESIDE)
MIN_WORDS, MAX_WORDS = 15, 200
RUN = 8
_WORD = re.compile(r"\w+")
_FENCE = re.compile(r"```.*?```", re.S)
_MARKUP_START = ("|", "..", "[", "<", "#", "*", "-", ">>>", "$", "=")


def _prose(block: str) -> str | None:
    text = " ".join(block.split())
    words = text.split()
    if not MIN_WORDS <= len(words) <= MAX_WORDS or text.startswith(_MARKUP_START):
        return None
    letters = sum(c.isalpha() for c in text)
    return text if letters >= 0.7 * len(text) else None


def readme_paragraphs(exclude: tuple[str, ...] = ("redline",)) -> list[str]:
    """Each installed distribution's prose paragraphs, in name order, each text once."""
    seen: set[str] = set()
    out: list[str] = []
    dists = {(d.metadata["Name"] or "").lower(): d for d in metadata.distributions()}
    for name in sorted(dists):
        if name in exclude:
            continue
        body = dists[name].metadata.get_payload() or ""  # type: ignore[attr-defined]
        if not isinstance(body, str):
            continue
        for block in re.split(r"\n\s*\n", _FENCE.sub("", body)):
            text = _prose(block)
            if text is not None and text not in seen:
                seen.add(text)
                out.append(text)
    return out


def dev_texts(where: Path = DEV_DIR) -> list[str]:
    """Every text of the outside dev sets (read only to compare against)."""
    return [x.subject.text or "" for p in sorted(where.glob("*.csv")) for x in read_external(p)]


def runs(text: str, n: int = RUN) -> set[tuple[str, ...]]:
    """The runs of n words of a text, lower-cased, punctuation dropped."""
    words = _WORD.findall(text.lower())
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


# Stock phrases that any two writers may use; each was checked by hand as not copied.
STOCK = frozenset({("someone", "and", "make", "it", "look", "like", "an", "accident")})


def shared_runs(ours: Iterable[str], theirs: Iterable[str]) -> list[str]:
    """Each of our texts that shares a run of RUN words (other than a STOCK phrase) with
    any of theirs."""
    seen: set[tuple[str, ...]] = set()
    for text in theirs:
        seen |= runs(text)
    seen -= STOCK
    return [text for text in ours if runs(text) & seen]
