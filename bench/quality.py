"""Quality of a reader on the test split and on outside sets, under the doubt rule that
decides now and under the band rule it replaced (issue 17), side by side.

Measure only: nothing here chooses a threshold or a setting.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.bench import percentile

# re-exported for bench/classifier.py, which imports this before tests/ is on sys.path
from tests.support.outside import DEV_DIR as DEV_DIR
from tests.support.outside import readme_paragraphs as readme_paragraphs

from redline.classify.types import Classification, Classifier
from redline.policy.doubt import restricting
from redline.policy.facts import Facts
from redline.subject import Subject
from redline.training.corpus import Example
from redline.training.evaluate import Decisions, classify_all, per_category
from redline.training.external import read_external

BATCH = 32


def band_rule(decisions: Decisions, cl: Classification) -> str:
    """The decision before issue 17: no summed mass; a category in the band just below its
    threshold that a pack would hold or deny is held."""
    without_doubt = replace(cl, thresholds=replace(cl.thresholds, allow_below=1.01))
    effect = decisions.decide(without_doubt)
    if effect != "allow":
        return effect
    for c in restricting(decisions.evaluator, decisions.packs, cl, Facts()):
        if c.score >= cl.thresholds.of(c.category) - cl.thresholds.band_of(c.category):
            return "hold"
    return "allow"


@dataclass(frozen=True)
class Rates:
    miss: float
    false_block: float
    n_restricted: int
    n_allowed: int


def rates(restricted: Sequence[bool], decided: Sequence[str]) -> Rates:
    misses = sum(r and d == "allow" for r, d in zip(restricted, decided, strict=True))
    blocks = sum(not r and d != "allow" for r, d in zip(restricted, decided, strict=True))
    n_r = sum(restricted)
    n_a = len(restricted) - n_r
    return Rates(misses / n_r if n_r else 0.0, blocks / n_a if n_a else 0.0, n_r, n_a)


@dataclass(frozen=True)
class Measured:
    name: str
    macro_f1: float | None
    doubt: Rates
    band: Rates


def measure(
    name: str,
    classifications: Sequence[Classification],
    restricted: Sequence[bool],
    decisions: Decisions,
    examples: Sequence[Example] | None = None,
) -> Measured:
    macro = per_category(examples, classifications)[1] if examples is not None else None
    doubt = [decisions.decide(cl) for cl in classifications]
    band = [band_rule(decisions, cl) for cl in classifications]
    return Measured(name, macro, rates(restricted, doubt), rates(restricted, band))


def on_test(classifier: Classifier, test: Sequence[Example], decisions: Decisions) -> Measured:
    cls = classify_all(classifier, test)
    restricted = [decisions.expected(e.labels) != "allow" for e in test]
    return measure(f"test split ({len(test)})", cls, restricted, decisions, test)


def on_csv(classifier: Classifier, path: Path, decisions: Decisions) -> Measured:
    lines = read_external(path)
    cls: list[Classification] = []
    for start in range(0, len(lines), BATCH):
        cls += classifier.classify_batch([x.subject for x in lines[start : start + BATCH]])
    return measure(f"{path.name} ({len(lines)})", cls, [x.restricted for x in lines], decisions)


def on_readmes(
    classifier: Classifier, paragraphs: Sequence[str], decisions: Decisions, answers: bool
) -> Measured:
    """Installed packages' README paragraphs (tests/support/outside.py), all harmless: as requests,
    or as a model's answers (the thresholds the gateway's answer path uses)."""
    cls: list[Classification] = []
    for start in range(0, len(paragraphs), BATCH):
        batch = [Subject(text=t) for t in paragraphs[start : start + BATCH]]
        cls += classifier.classify_batch(batch)
    if answers:
        cls = [c.as_answer() for c in cls]
    name = f"READMEs as {'answers' if answers else 'requests'} ({len(paragraphs)})"
    return measure(name, cls, [False] * len(cls), decisions)


def percentiles(fn: Callable[[], object], n: int) -> tuple[float, float]:
    fn()  # warm up
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), percentile(times, 99)


def p50_ms(classifier: Classifier, decisions: Decisions, subject: Subject, n: int) -> float:
    return percentiles(lambda: decisions.decide(classifier.classify(subject)), n)[0]


def table(reader: str, rows: Sequence[Measured], p50: float) -> list[str]:
    out = []
    for m in rows:
        f1 = f"{m.macro_f1:.3f}" if m.macro_f1 is not None else "-"
        out.append(
            f"{reader:<34} {m.name:<30} {f1:>8} "
            f"{_miss(m.band):>7} {m.band.false_block:>7.1%}   "
            f"{_miss(m.doubt):>7} {m.doubt.false_block:>7.1%} {p50:>8.2f}"
        )
    return out


def _miss(r: Rates) -> str:
    return f"{r.miss:.1%}" if r.n_restricted else "-"


HEADER = (
    f"{'reader':<34} {'set (lines)':<30} {'macro-F1':>8} "
    f"{'miss':>7} {'f-block':>7}   {'miss':>7} {'f-block':>7} {'p50 ms':>8}\n"
    f"{'':<34} {'':<30} {'':>8} {'band rule (before)':>15}   {'doubt rule (now)':>15}"
)
