"""Decide the same traffic under two compositions: classify once, evaluate twice.

The classifier is the expensive and the uncertain part, so each request is classified
once and both compositions see the very same scores: every difference in the report is
the policies' doing, not the classifier's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from redline.classify.types import Classifier
from redline.policy.compose import compose
from redline.policy.diff import Clause, Side, side, side_json
from redline.policy.engine import PackEvaluator
from redline.policy.facts import Facts
from redline.policy.pack import Pack
from redline.subject import DecideRequest
from redline.taxonomy import Effect
from redline.trust import Trust, facts_from

EFFECTS = tuple(e.value for e in Effect)
SHOWN_SCORE = 0.05  # categories below this are left out of a changed line's listing


@dataclass(frozen=True)
class Item:
    """One request to re-decide, where it came from (a line number, a ledger index), and
    the attested facts it is decided on."""

    ref: int
    request: DecideRequest
    facts: Facts


def request_item(ref: int, request: DecideRequest, trust: Trust) -> Item:
    """A request whose facts are its context's attestations, kept as `trust` says."""
    return Item(ref, request, facts_from(request.context, trust)[0])


@dataclass(frozen=True)
class PackRef:
    name: str
    version: str
    sha256: str

    @staticmethod
    def of(packs: Sequence[Pack]) -> tuple[PackRef, ...]:
        return tuple(PackRef(p.name, p.version, p.sha256) for p in packs)


@dataclass(frozen=True)
class Compared:
    ref: int
    id: str | int | None
    categories: dict[str, float]
    a: Side
    b: Side

    @property
    def changed(self) -> bool:
        return self.a.effect != self.b.effect


@dataclass
class ShiftReport:
    a: tuple[PackRef, ...]
    b: tuple[PackRef, ...]
    shift: Counter[tuple[str, str]] = field(default_factory=Counter)  # (a, b) -> lines
    changed: list[Compared] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)  # one message per unreadable input

    def add(self, compared: Compared) -> None:
        self.shift[(compared.a.effect, compared.b.effect)] += 1
        if compared.changed:
            self.changed.append(compared)

    @property
    def total(self) -> int:
        return sum(self.shift.values())

    def count(self, which: str, effect: str) -> int:
        index = 0 if which == "a" else 1
        return sum(n for pair, n in self.shift.items() if pair[index] == effect)


def compare_batch(
    classifier: Classifier,
    a: Sequence[Pack],
    b: Sequence[Pack],
    items: Sequence[Item],
    evaluator: PackEvaluator,
) -> list[Compared]:
    """One classify_batch call for the batch, then both compositions on each result."""
    classifications = classifier.classify_batch([it.request.subject() for it in items])
    out = []
    for it, classification in zip(items, classifications, strict=True):
        left = side(compose(evaluator, a, classification, it.facts))
        right = side(compose(evaluator, b, classification, it.facts))
        scores = {k: v for k, v in classification.as_dict().items() if v >= SHOWN_SCORE}
        out.append(Compared(it.ref, it.request.id, scores, left, right))
    return out


def batches(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    batch: list[Item] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def simulate(
    classifier: Classifier,
    a: Sequence[Pack],
    b: Sequence[Pack],
    items: Iterable[Item],
    *,
    batch_size: int = 256,
    advance: Callable[[int], None] = lambda n: None,
) -> ShiftReport:
    report = ShiftReport(PackRef.of(a), PackRef.of(b))
    evaluator = PackEvaluator()
    for batch in batches(items, batch_size):
        for compared in compare_batch(classifier, a, b, batch, evaluator):
            report.add(compared)
        advance(len(batch))
    return report


def _refs_json(refs: Sequence[PackRef]) -> list[dict[str, str]]:
    return [{"name": r.name, "version": r.version, "sha256": r.sha256} for r in refs]


def shift_json(report: ShiftReport) -> dict[str, Any]:
    return {
        "a": _refs_json(report.a),
        "b": _refs_json(report.b),
        "decided": report.total,
        "invalid": report.invalid,
        "counts": {w: {e: report.count(w, e) for e in EFFECTS} for w in ("a", "b")},
        "shift": [
            {"a": x, "b": y, "count": report.shift[(x, y)]}
            for x in EFFECTS
            for y in EFFECTS
            if report.shift[(x, y)]
        ],
        "changed": [
            {
                "ref": c.ref,
                "id": c.id,
                "categories": c.categories,
                "a": side_json(c.a),
                "b": side_json(c.b),
            }
            for c in report.changed
        ],
    }


def _side_from(body: dict[str, Any]) -> Side:
    clauses = tuple(Clause(c["policy"], c["rule"], c["reason"]) for c in body["decided_by"])
    return Side(body["effect"], clauses, body.get("release") or "", tuple(body["categories"]))


def shift_from_json(body: dict[str, Any]) -> ShiftReport:
    """The report again from its JSON (what `redline replay` gets from the server)."""

    def refs(items: list[dict[str, str]]) -> tuple[PackRef, ...]:
        return tuple(PackRef(r["name"], r["version"], r["sha256"]) for r in items)

    report = ShiftReport(refs(body["a"]), refs(body["b"]), invalid=list(body["invalid"]))
    for pair in body["shift"]:
        report.shift[(pair["a"], pair["b"])] = pair["count"]
    report.changed = [
        Compared(c["ref"], c["id"], c["categories"], _side_from(c["a"]), _side_from(c["b"]))
        for c in body["changed"]
    ]
    return report
