"""The gate is fitted on what it reads at run time: the ~60-word runs of harmless text too."""

from __future__ import annotations

import numpy as np

from redline.classify.features import Embedded, WindowRef, units
from redline.subject import Subject
from redline.training.corpus import Example
from redline.training.fit import harmless_runs

SENTENCE = "The reporter describes what the soldiers found in the burned village that morning. "


def _example(id: str, category: str, words: int) -> Example:
    text = SENTENCE * (words // len(SENTENCE.split()) + 1)
    return Example(id, category, id, Subject.model_validate({"text": text}))


def _embedded(examples: list[Example]) -> Embedded:
    """One window per unit, as embed_subjects lays them out (vectors do not matter here)."""
    refs = []
    for i, e in enumerate(examples):
        us = units(e.subject)
        for k, u in enumerate(us):
            refs.append(WindowRef(i, u, k == len(us) - 1, 0, 1, 0, len(u.text)))
    return Embedded(np.zeros((len(refs), 384), np.float32), tuple(refs), len(examples))


def test_runs_of_harmless_long_text_train_the_gate_and_restricted_ones_do_not() -> None:
    examples = [
        _example("a", "general", 200),
        _example("b", "harmful_content", 200),
        _example("c", "general", 20),
    ]
    emb = _embedded(examples)
    runs = harmless_runs(examples, emb)
    assert runs, "a 200-word harmless post has runs"
    assert {emb.refs[r].subject for r in runs} == {0}
    assert all(emb.refs[r].unit.part and not emb.refs[r].primary for r in runs)
    # Every run of the harmless post, none of its whole.
    parts = [r for r, ref in enumerate(emb.refs) if ref.subject == 0 and ref.unit.part]
    assert runs == parts
