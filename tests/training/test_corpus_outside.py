"""The corpus holds no text of the outside sets it is measured on: no line of data/ shares a
run of eight words with a dev set row or an installed package's README paragraph."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from redline.training.corpus import load_corpus
from tests.support.outside import DEV_DIR, dev_texts, readme_paragraphs, shared_runs

DATA = Path(__file__).resolve().parents[2] / "data"


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def corpus_texts() -> list[str]:
    """Every example of data/, every split: the strings of its text, chat or tool call."""
    return [" ".join(_strings(e.subject.content_json())) for e in load_corpus(DATA)]


def test_shared_runs_finds_a_copied_sentence() -> None:
    theirs = ["The quick brown fox jumps over the lazy dog near the river bank today."]
    ours = ["intro. the QUICK brown fox jumps over the lazy dog, near the river", "other words"]
    assert shared_runs(ours, theirs) == [ours[0]]
    assert shared_runs(["quick brown fox jumps over the lazy", "fox jumps"], theirs) == []


def test_no_corpus_line_copies_a_dev_set() -> None:
    dev = dev_texts()
    assert len(dev) > 500, f"expected the dev sets at {DEV_DIR}: set REDLINE_EVAL_DEV_DIR"
    assert shared_runs(corpus_texts(), dev) == []


def test_no_corpus_line_copies_an_installed_readme() -> None:
    paragraphs = readme_paragraphs()
    assert len(paragraphs) > 300
    assert shared_runs(corpus_texts(), paragraphs) == []
