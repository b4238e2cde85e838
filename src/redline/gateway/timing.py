"""The `Server-Timing` header (W3C): where a request's time went, stage by stage, in ms.

Stage names and durations only, never content, so an operator sees what Redline adds
without a profiler.
"""

from __future__ import annotations

from collections.abc import Iterable


def server_timing(stages: Iterable[tuple[str, float]]) -> dict[str, str]:
    """`{"server-timing": "classify;dur=0.31, ledger;dur=0.60"}`, or {} with no stages."""
    value = ", ".join(f"{name};dur={ms:.2f}" for name, ms in stages)
    return {"server-timing": value} if value else {}
