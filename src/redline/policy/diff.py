"""What one composition of packs decides differently from another, over the whole space.

Every cell (category x attested facts) is decided under both sides by the same
composition the server uses; the cells that differ are then merged along each dimension
whose every value differs the same way, so "authority_ref: *" reads "whatever it is".
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from redline.classify.types import CategoryScore, Classification
from redline.policy.compose import Outcome, compose
from redline.policy.engine import PackEvaluator
from redline.policy.pack import Pack
from redline.policy.space import ANY, JOIN, Cell, Dimension, NarrowEvaluator, cells, dimensions
from redline.taxonomy import CATEGORIES


@dataclass(frozen=True)
class Clause:
    """A deciding rule and the clause it quotes."""

    pack: str
    rule: str
    reason: str


@dataclass(frozen=True)
class Side:
    """How one composition decides a cell."""

    effect: str
    clauses: tuple[Clause, ...]
    release: str  # what would release a hold; "" otherwise
    categories: tuple[str, ...] = ()  # the categories the deciding verdicts were on


@dataclass(frozen=True)
class Difference:
    """A merged region of differing cells: `values` has ANY where every value differs alike."""

    category: str
    values: tuple[str, ...]
    a: Side
    b: Side
    cells: int  # how many cells of the space it stands for


@dataclass(frozen=True)
class DiffReport:
    a: tuple[Pack, ...]
    b: tuple[Pack, ...]
    dimensions: tuple[Dimension, ...]
    examined: int
    differing: int
    differences: tuple[Difference, ...]

    def conditions(self, diff: Difference) -> dict[str, str]:
        return {d.name: v for d, v in zip(self.dimensions, diff.values, strict=True)}


def certain(category: str) -> Classification:
    """A use that is certainly `category` and nothing else."""
    return Classification(scores={category: CategoryScore(category, 1.0)}, classifier="diff")


def release_text(outcome: Outcome) -> str:
    parts = []
    for r in outcome.release:
        needs = [f"approval by {r.role}"] if r.role else []
        needs += list(r.attestations)
        parts.append(" + ".join(needs))
    return "; ".join(dict.fromkeys(parts))


def side(outcome: Outcome) -> Side:
    clauses = tuple(
        dict.fromkeys(Clause(v.pack, r.id, r.reason) for v in outcome.deciding for r in v.rules)
    )
    categories = tuple(dict.fromkeys(v.category for v in outcome.deciding))
    return Side(outcome.effect.value, clauses, release_text(outcome), categories)


def decide_cell(
    evaluator: PackEvaluator, packs: Sequence[Pack], cell: Cell, dims: Sequence[Dimension]
) -> Side:
    point = cell.point(dims)
    return side(compose(evaluator, packs, certain(cell.category), point.facts, point.aggregate))


def _merge(diffs: list[Difference], axis: int, order: tuple[str, ...]) -> list[Difference]:
    """Merge differences that agree everywhere but `axis`: ANY when they cover all its
    values, else the values they cover joined by " | "."""
    groups: dict[tuple[object, ...], list[Difference]] = defaultdict(list)
    for d in diffs:
        key = (d.category, d.values[:axis], d.values[axis + 1 :], d.a, d.b)
        groups[key].append(d)
    merged: list[Difference] = []
    for group in groups.values():
        first = group[0]
        if len(group) == 1:
            merged.append(first)
            continue
        seen = sorted({d.values[axis] for d in group}, key=order.index)
        value = ANY if len(seen) == len(order) else JOIN.join(seen)
        values = (*first.values[:axis], value, *first.values[axis + 1 :])
        merged.append(
            Difference(first.category, values, first.a, first.b, sum(d.cells for d in group))
        )
    return merged


def _position(d: Difference, dims: Sequence[Dimension]) -> tuple[int, ...]:
    where = [
        -1 if v == ANY else dim.values.index(v.split(JOIN)[0])
        for dim, v in zip(dims, d.values, strict=True)
    ]
    return (CATEGORIES.index(d.category), *where)


def diff(
    a: Sequence[Pack], b: Sequence[Pack], evaluator: PackEvaluator | None = None
) -> DiffReport:
    """Decide every cell under both compositions; keep and merge the cells that differ."""
    evaluator = evaluator or NarrowEvaluator()
    dims = tuple(dimensions([*a, *b]))
    examined = 0
    found: list[Difference] = []
    for cell in cells(dims):
        examined += 1
        left = decide_cell(evaluator, a, cell, dims)
        right = decide_cell(evaluator, b, cell, dims)
        if left.effect != right.effect:
            found.append(Difference(cell.category, cell.values, left, right, 1))
    differing = len(found)
    for axis, dim in enumerate(dims):
        found = _merge(found, axis, dim.values)
    found.sort(key=lambda d: _position(d, dims))
    return DiffReport(tuple(a), tuple(b), dims, examined, differing, tuple(found))


def side_json(s: Side) -> dict[str, object]:
    return {
        "effect": s.effect,
        "categories": list(s.categories),
        "decided_by": [{"policy": c.pack, "rule": c.rule, "reason": c.reason} for c in s.clauses],
        "release": s.release or None,
    }


def packs_json(packs: Sequence[Pack]) -> list[dict[str, str]]:
    return [{"name": p.name, "version": p.version, "sha256": p.sha256} for p in packs]


def report_json(report: DiffReport) -> dict[str, object]:
    """The report as plain JSON: both sides, the space, and each merged difference."""

    return {
        "a": packs_json(report.a),
        "b": packs_json(report.b),
        "dimensions": {"category": list(CATEGORIES)}
        | {d.name: list(d.values) for d in report.dimensions},
        "cells_examined": report.examined,
        "cells_differing": report.differing,
        "differences": [
            {
                "category": d.category,
                "when": report.conditions(d),
                "cells": d.cells,
                "a": side_json(d.a),
                "b": side_json(d.b),
            }
            for d in report.differences
        ],
    }
