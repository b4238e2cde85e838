"""Aggregate bands: where a pack's rules cut the counts of `context.aggregate`.

A pack's aggregate rules compare counts with constants (`distinct_subjects_24h > 25`). Two
counts on the same side of every constant get the same answer from Cedar, so an evaluation
is memoised on the band a count falls in, not on the count. An attribute used in any other
way (arithmetic, a bare reference) is keyed on its exact value, which is always exact.
The bands are also what a policy lab shows: the limits each pack sets.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_COMPARE = (">", ">=", "<", "<=", "==", "!=")
EXACT: tuple[int, ...] = ()  # marks an attribute keyed on its exact value
ALL = "*"  # the whole of context.aggregate is used: every attribute exactly

# The sliding windows, by the name packs use in `@window(...)` and in the context's
# attribute names (distinct_subjects_1h ...). A new window is a schema change.
WINDOWS: dict[str, float] = {"1h": 3600.0, "24h": 86400.0}
SCOPES = ("principal", "deployment")


def _attribute(node: Any) -> str | None:
    """`X` where node is `context.aggregate.X`."""
    if not isinstance(node, dict) or "." not in node:
        return None
    inner = node["."]
    left = inner.get("left", {})
    if (
        isinstance(left, dict)
        and left.get(".", {}).get("attr") == "aggregate"
        and left["."].get("left") == {"Var": "context"}
    ):
        return str(inner.get("attr"))
    return None


def _is_aggregate(node: Any) -> bool:
    return isinstance(node, dict) and node.get(".", {}).get("attr") == "aggregate"


def _literal(node: Any) -> int | None:
    value = node.get("Value") if isinstance(node, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _scan(node: Any, cuts: dict[str, set[int]], exact: set[str]) -> None:
    if isinstance(node, list):
        for item in node:
            _scan(item, cuts, exact)
        return
    if not isinstance(node, dict):
        return
    for op in _COMPARE:
        if op in node:
            left, right = node[op].get("left"), node[op].get("right")
            for attr_side, value_side in ((left, right), (right, left)):
                attr, value = _attribute(attr_side), _literal(value_side)
                if attr is not None and value is not None:
                    cuts.setdefault(attr, set()).add(value)
                    _scan(value_side, cuts, exact)
                    break
            else:
                _scan([left, right], cuts, exact)
            return
    if (attr := _attribute(node)) is not None:
        exact.add(attr)
        return
    if _is_aggregate(node):
        exact.add(ALL)
        return
    for value in node.values():
        _scan(value, cuts, exact)


def aggregate_bands(policies: Mapping[str, Any]) -> dict[str, tuple[int, ...]]:
    """attribute -> its sorted cut points (EXACT: keyed on the value; ALL: everything)."""
    cuts: dict[str, set[int]] = {}
    exact: set[str] = set()
    for body in policies.values():
        _scan(body.get("conditions", []), cuts, exact)
    bands = {attr: tuple(sorted(values)) for attr, values in cuts.items()}
    bands.update(dict.fromkeys(exact, EXACT))
    return bands


def band_key(bands: Mapping[str, tuple[int, ...]], values: Mapping[str, Any]) -> tuple[Any, ...]:
    """The memo key of `values` (context.aggregate) under a pack's bands."""
    if ALL in bands:
        return tuple(sorted(values.items()))
    key: list[Any] = []
    for attr in sorted(bands):
        value = values.get(attr)
        cuts = bands[attr]
        if cuts is EXACT or not isinstance(value, int) or isinstance(value, bool):
            key.append((attr, value))
        else:
            key.append((attr, tuple((value > c) - (value < c) for c in cuts)))
    return tuple(key)
