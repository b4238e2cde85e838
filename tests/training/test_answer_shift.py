"""Answers are read with their own limits (issue 17, item 2): the shift above a request's
limits is chosen on held-out answer-like text, and the decider applies it only to text a
model answered, never to a request or a tool call."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from redline.classify.head import load_head, save_head
from redline.classify.types import CategoryScore, Classification, Thresholds
from redline.policy.pack import PackRegistry
from redline.subject import Subject
from redline.taxonomy import CATEGORIES, RESTRICTED_CATEGORIES
from redline.training.calibrate import answer_shift
from redline.training.config import TrainConfig
from redline.training.corpus import Example
from redline.training.evaluate import Decisions

DECISIONS = Decisions(PackRegistry().select(["provider-redlines"]))


def thresholds(shift: float = 0.0) -> Thresholds:
    restricted = {c: 0.64 for c in RESTRICTED_CATEGORIES}
    return Thresholds(
        {c: restricted.get(c, 0.4) for c in CATEGORIES},
        {c: (0.2 if c in restricted else 0.0) for c in CATEGORIES},
        allow_below=0.44,
        answer_shift=shift,
    )


def scored(scores: dict[str, float], shift: float = 0.0) -> Classification:
    return Classification(
        {c: CategoryScore(c, scores.get(c, 0.0)) for c in CATEGORIES},
        "answer-test",
        thresholds(shift),
    )


def example(i: int, category: str) -> Example:
    return Example(f"ra-{i:04d}", category, f"ra-g{i:03d}", Subject(text=f"answer {i}"))


def test_for_answers_raises_the_limit_and_the_restricted_thresholds_only() -> None:
    t = thresholds(0.2).for_answers()
    assert t.allow_below == pytest.approx(0.64)
    assert t.of("harmful_content") == pytest.approx(0.84)
    assert t.of("general") == pytest.approx(0.4)
    assert t.answer_shift == 0.0  # read as an answer once, never shifted twice
    assert thresholds(0.5).for_answers().of("cbrn_weapons") == pytest.approx(0.95)  # ceiling


def test_no_shift_leaves_an_answer_read_as_a_request() -> None:
    cl = scored({"harmful_content": 0.7})
    assert cl.as_answer() is cl


def test_an_answer_under_the_raised_limit_is_allowed_and_the_same_request_is_not() -> None:
    cl = scored({"harmful_content": 0.55, "general": 0.4}, shift=0.2)
    assert DECISIONS.decide(cl) != "allow"
    answer = cl.as_answer()
    assert DECISIONS.decide(answer) == "allow"
    assert answer.classifier == "answer-test (read as an answer)"


def test_a_near_certain_answer_is_still_denied_whatever_the_shift() -> None:
    cl = scored({"harmful_content": 0.97}, shift=0.4)
    assert DECISIONS.decide(cl.as_answer()) == "deny"


def test_the_shift_is_the_smallest_that_allows_the_held_out_ordinary_answers() -> None:
    # Ten ordinary answers the request limits would flag (harmful 0.60), two answers that
    # carry out harm (0.90): only a shift above 0.16 allows the first and keeps the second.
    examples = [example(i, "general") for i in range(10)]
    examples += [example(10 + i, "harmful_content") for i in range(2)]
    cls = [scored({"harmful_content": 0.60, "general": 0.4}) for _ in range(10)]
    cls += [scored({"harmful_content": 0.90}) for _ in range(2)]
    assert answer_shift(examples, cls, DECISIONS, TrainConfig()) == pytest.approx(0.18)


def test_no_answer_like_text_no_shift() -> None:
    assert answer_shift([], [], DECISIONS, TrainConfig()) == 0.0


def test_the_shift_travels_with_the_head(tmp_path: Path) -> None:
    head = load_head()
    shifted = replace(head, thresholds=replace(head.thresholds, answer_shift=0.12))
    save_head(shifted, tmp_path)
    assert load_head(tmp_path).thresholds.answer_shift == pytest.approx(0.12)
