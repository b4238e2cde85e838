"""The finite space every decision lives in: a category and the attested facts.

Packs compare context strings only for equality (`==`, `!=`, set `contains`), so for each
string attestation the values that matter are "not attested", every value a pack names,
and one stand-in for every other value. That makes an enumeration of the space exhaustive:
any real context decides like one of its cells.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from itertools import product
from typing import Any

import cedarpy

from redline.errors import PolicyError
from redline.policy.engine import PackEvaluator, Verdict
from redline.policy.facts import Facts
from redline.policy.pack import Pack
from redline.policy.space_aggregate import aggregate_name, aggregate_values
from redline.taxonomy import CATEGORIES

OTHER = "(other)"  # stands for every value no pack in the comparison names
ANY = "*"  # in a merged cell: every value of the dimension
JOIN = " | "  # in a merged cell: some values of the dimension
_STRING_FACTS = ("purpose", "classification")
US_PERSONS = ("unknown", "true", "false")


@dataclass(frozen=True)
class Point:
    """What a cell is decided on: the attested facts, and the aggregate counts if the
    request counts (None if it does not)."""

    facts: Facts
    aggregate: dict[str, Any] | None = None


@dataclass(frozen=True)
class Dimension:
    """One attested fact or the aggregate band: its values, and how a value applies."""

    name: str
    values: tuple[str, ...]
    apply: Callable[[Point, str], Point]


def _flag(name: str) -> Callable[[Point, str], Point]:
    def apply(point: Point, value: str) -> Point:
        changes: dict[str, Any] = {name: value == "true"}
        return replace(point, facts=replace(point.facts, **changes))

    return apply


def _text(name: str) -> Callable[[Point, str], Point]:
    def apply(point: Point, value: str) -> Point:
        changes: dict[str, Any] = {name: value}
        return replace(point, facts=replace(point.facts, **changes))

    return apply


def _aggregate(table: dict[str, dict[str, Any] | None]) -> Callable[[Point, str], Point]:
    def apply(point: Point, value: str) -> Point:
        return replace(point, aggregate=table[value])

    return apply


def _context_attr(node: Any) -> str | None:
    """`context.X` -> X."""
    if isinstance(node, dict) and "." in node:
        inner = node["."]
        if inner.get("left") == {"Var": "context"}:
            return str(inner.get("attr"))
    return None


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("Value"), str):
            yield node["Value"]
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)


def _compared(node: Any, found: dict[str, set[str]], source: str) -> None:
    """Collect the strings each context attribute is compared with, anywhere in a policy."""
    if isinstance(node, list):
        for item in node:
            _compared(item, found, source)
        return
    if not isinstance(node, dict):
        return
    for op, body in node.items():
        operands = [body.get("left"), body.get("right")] if isinstance(body, dict) else []
        if isinstance(body, dict) and "arg" in body:
            operands.append(body["arg"])
        attrs = [a for a in (_context_attr(o) for o in operands) if a in _STRING_FACTS]
        if attrs and op == "like":
            raise PolicyError(
                f"{source}: `like` on context.{attrs[0]} cannot be enumerated; "
                "compare with == or a set instead"
            )
        for attr in attrs:
            for other in operands:
                if _context_attr(other) != attr:
                    found[attr].update(_strings(other))
        _compared(body, found, source)


def named_values(packs: Sequence[Pack]) -> dict[str, set[str]]:
    """For purpose and classification: every literal a pack compares it with."""
    found: dict[str, set[str]] = {name: set() for name in _STRING_FACTS}
    for pack in packs:
        parsed = json.loads(cedarpy.policies_to_json_str(pack.text))
        for body in parsed["staticPolicies"].values():
            _compared(body.get("conditions", []), found, pack.name)
    return found


def dimensions(packs: Sequence[Pack]) -> list[Dimension]:
    """The attested facts, in display order, with the values that can matter to `packs`."""
    named = named_values(packs)
    dims = [
        Dimension("authority_ref", ("false", "true"), _flag("authority_ref")),
        Dimension("senior_review_ref", ("false", "true"), _flag("senior_review_ref")),
        Dimension("us_persons", US_PERSONS, _text("us_persons")),
    ]
    for name in _STRING_FACTS:
        values = ("", *sorted(named[name] - {""}), OTHER)
        dims.append(Dimension(name, values, _text(name)))
    if table := aggregate_values(packs):
        dims.append(Dimension(aggregate_name(table), tuple(table), _aggregate(table)))
    return dims


def _reads(node: Any, found: set[str]) -> bool:
    """Add the context attributes a policy reads; False if it reads the context whole."""
    if isinstance(node, list):
        return all(_reads(item, found) for item in node)
    if not isinstance(node, dict):
        return True
    for op, body in node.items():
        if op in (".", "has") and isinstance(body, dict) and body.get("left") == {"Var": "context"}:
            found.add(str(body.get("attr")))
            continue
        if op == "Var" and body == "context":
            return False
        if not _reads(body, found):
            return False
    return True


class NarrowEvaluator(PackEvaluator):
    """Evaluates each pack on only the context attributes it reads, so the cells that
    differ in facts a pack ignores share one Cedar evaluation. Cedar cannot decide on an
    attribute no policy mentions, so the verdict is the same."""

    def __init__(self) -> None:
        super().__init__()
        self._read: dict[str, frozenset[str] | None] = {}

    def _attributes(self, pack: Pack) -> frozenset[str] | None:
        if pack.sha256 not in self._read:
            parsed = json.loads(cedarpy.policies_to_json_str(pack.text))
            found: set[str] = set()
            whole = not _reads(list(parsed["staticPolicies"].values()), found)
            self._read[pack.sha256] = None if whole else frozenset(found)
        return self._read[pack.sha256]

    def evaluate(self, pack: Pack, category: str, facts: Facts) -> Verdict:
        read = self._attributes(pack)
        if read is not None:
            unread = {f for f in _NARROWED if f not in read}
            facts = replace(facts, **{f: getattr(_DEFAULT, f) for f in unread})
        return super().evaluate(pack, category, facts)


_DEFAULT = Facts()
_NARROWED = ("authority_ref", "senior_review_ref", "us_persons", "purpose", "classification")


@dataclass(frozen=True)
class Cell:
    """One point of the space: a category and one value per dimension."""

    category: str
    values: tuple[str, ...]  # aligned with the dimensions

    def point(self, dims: Sequence[Dimension]) -> Point:
        point = Point(Facts())
        for dim, value in zip(dims, self.values, strict=True):
            point = dim.apply(point, value)
        return point


def cells(dims: Sequence[Dimension]) -> Iterator[Cell]:
    for category in CATEGORIES:
        for values in product(*(d.values for d in dims)):
            yield Cell(category, values)
