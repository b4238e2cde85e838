"""`redline policies test`: a pack's own test cases, like OPA's policy tests.

A case names a category (with a score, 1.0 unless given), the attested context and the
approvals given, and the effect it expects (and optionally the rule that must decide).
Cases are read from TOML (`[[case]]` tables) or JSON Lines.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from redline.classify.types import CategoryScore, Classification
from redline.errors import InputError, UnknownCategoryError
from redline.policy.compose import compose
from redline.policy.diff import Side, side
from redline.policy.engine import PackEvaluator
from redline.policy.facts import Facts
from redline.policy.pack import Pack
from redline.taxonomy import check_category


class CaseContext(BaseModel):
    """The attested facts of a case (all trusted: this tests the pack, not the trust)."""

    model_config = ConfigDict(extra="forbid")
    authority_ref: bool | str | None = None
    senior_review_ref: bool | str | None = None
    purpose: str = ""
    classification: str = ""
    us_persons: Literal["true", "false", "unknown"] | bool = "unknown"
    approvals: list[str] = Field(default_factory=list)  # roles of the humans who approved

    def facts(self) -> Facts:
        us = self.us_persons
        return Facts(
            authority_ref=bool(self.authority_ref),
            senior_review_ref=bool(self.senior_review_ref),
            purpose=self.purpose,
            classification=self.classification,
            us_persons=("true" if us else "false") if isinstance(us, bool) else us,
            approvals=frozenset(self.approvals),
        )


class Case(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = ""
    category: str
    score: float = Field(default=1.0, ge=0.0, le=1.0)
    context: CaseContext = Field(default_factory=CaseContext)
    expect: Literal["allow", "hold", "deny"]
    rule: str | None = None  # a rule id that must be among the deciding rules

    @field_validator("category")
    @classmethod
    def _known(cls, value: str) -> str:
        try:
            return check_category(value)
        except UnknownCategoryError as exc:  # a ValueError so the case's line is named
            raise ValueError(str(exc)) from None


@dataclass(frozen=True)
class NumberedCase:
    case: Case
    line: int  # where it starts in the file

    @property
    def label(self) -> str:
        return f"{self.case.name or self.case.category} (line {self.line})"


@dataclass(frozen=True)
class CaseResult:
    numbered: NumberedCase
    got: Side

    @property
    def passed(self) -> bool:
        case = self.numbered.case
        rules = {c.rule for c in self.got.clauses}
        return self.got.effect == case.expect and (case.rule is None or case.rule in rules)

    def explain(self) -> str:
        case = self.numbered.case
        by = ", ".join(f"{c.pack} / {c.rule}" for c in self.got.clauses)
        want = case.expect + (f" by {case.rule}" if case.rule else "")
        return f"expected {want}, got {self.got.effect} by {by}"


def _invalid(path: Path, line: int, exc: ValidationError) -> InputError:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "case"
    return InputError(f"{path}, line {line}: {where}: {first['msg']}")


def _toml_cases(path: Path, text: str) -> list[NumberedCase]:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML: {exc}") from exc
    unknown = set(raw) - {"case"}
    if unknown:
        raise InputError(f"{path}: unknown top-level keys {sorted(unknown)}; use [[case]] tables")
    starts = [i for i, ln in enumerate(text.splitlines(), 1) if re.match(r"\s*\[\[case\]\]", ln)]
    out = []
    for body, line in zip(raw.get("case", []), starts, strict=True):
        try:
            out.append(NumberedCase(Case.model_validate(body), line))
        except ValidationError as exc:
            raise _invalid(path, line, exc) from exc
    return out


def _jsonl_cases(path: Path, text: str) -> list[NumberedCase]:
    out = []
    for line, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            out.append(NumberedCase(Case.model_validate(json.loads(raw)), line))
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}, line {line}: not JSON: {exc.msg}") from exc
        except ValidationError as exc:
            raise _invalid(path, line, exc) from exc
    return out


def load_cases(path: Path) -> list[NumberedCase]:
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise InputError(f"cannot read cases {path}: {exc.strerror}") from exc
    cases = _toml_cases(path, text) if path.suffix == ".toml" else _jsonl_cases(path, text)
    if not cases:
        raise InputError(f"{path}: no cases")
    return cases


def run_cases(packs: Sequence[Pack], cases: Sequence[NumberedCase]) -> list[CaseResult]:
    """Decide every case under the composition of `packs`, as the server would."""
    evaluator = PackEvaluator()
    results = []
    for numbered in cases:
        case = numbered.case
        scores = {case.category: CategoryScore(case.category, case.score)}
        classification = Classification(scores=scores, classifier="policies-test")
        outcome = compose(evaluator, packs, classification, case.context.facts())
        results.append(CaseResult(numbered, side(outcome)))
    return results
