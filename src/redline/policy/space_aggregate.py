"""The aggregate bands of the decision space: where the packs' aggregate rules cut the
counts of `context.aggregate`, and one count inside each band.

Two counts on the same side of every constant a pack compares with get the same answer
from Cedar (policy/bands.py), so one count per band, and each constant itself, covers
every count. A request that does not count (not surveillance, not a person lookup) is the
band "(not counted)".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import product
from typing import Any

from redline.errors import PolicyError
from redline.policy.bands import ALL, EXACT
from redline.policy.pack import Pack, schema_text

NOT_COUNTED = "(not counted)"


def _bools() -> set[str]:
    """The Bool attributes of the schema's Aggregate record (`lookup`)."""
    m = re.search(r"type Aggregate = \{(.*?)\}", schema_text(), re.S)
    return set(re.findall(r"(\w+):\s*Bool", m.group(1))) if m else set()


def _cuts(packs: Sequence[Pack]) -> tuple[dict[str, set[int]], set[str]]:
    cuts: dict[str, set[int]] = {}
    exact: set[str] = set()
    for pack in packs:
        for attr, values in pack.aggregate_bands.items():
            if attr == ALL or values == EXACT:
                exact.add(attr)
            else:
                cuts.setdefault(attr, set()).update(values)
    refused = exact - _bools()
    if refused:
        raise PolicyError(
            f"aggregate attribute(s) {sorted(refused)} are used other than compared with a "
            "constant, so their values cannot be enumerated"
        )
    return cuts, exact


def ranges(cuts: set[int]) -> list[tuple[str, int]]:
    """(label, a count inside) for each band the constants cut, each constant included."""
    points = sorted(c for c in cuts if c >= 0)
    out: list[tuple[str, int]] = []
    low = 0
    for c in points:
        if low < c:
            out.append((f"{low}-{c - 1}" if low < c - 1 else str(low), low))
        out.append((str(c), c))
        low = c + 1
    out.append((f">={low}", low))
    return out


def aggregate_values(packs: Sequence[Pack]) -> dict[str, dict[str, Any] | None]:
    """label -> context.aggregate for it (None: the request does not count); empty when no
    pack rules on aggregates."""
    cuts, bools = _cuts(packs)
    axes: list[list[tuple[str, str, Any]]] = [
        [(attr, label, count) for label, count in ranges(values)]
        for attr, values in sorted(cuts.items())
    ]
    axes += [[(attr, str(v).lower(), v) for v in (False, True)] for attr in sorted(bools)]
    if not axes:
        return {}
    table: dict[str, dict[str, Any] | None] = {NOT_COUNTED: None}
    for combo in product(*axes):
        # one attribute names the dimension; several name themselves in each value
        label = ", ".join(f"{attr} {text}" if len(axes) > 1 else text for attr, text, _ in combo)
        table[label] = {attr: value for attr, _, value in combo}
    return table


def aggregate_name(table: dict[str, dict[str, Any] | None]) -> str:
    """The dimension's name: the one attribute the packs count with, or "aggregate"."""
    attrs = {a for counts in table.values() if counts for a in counts}
    return f"aggregate.{attrs.pop()}" if len(attrs) == 1 else "aggregate"
