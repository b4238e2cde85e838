"""The windows and the counts a pack sees as `context.aggregate` (Cedar action "aggregate")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redline.policy.bands import SCOPES, WINDOWS

__all__ = ["SCOPES", "WINDOWS", "Tally"]


@dataclass(frozen=True)
class Tally:
    """Distinct subjects per window, this request's subjects included."""

    principal: dict[str, int]
    deployment: dict[str, int]
    subjects: int  # distinct subjects of this request
    lookup: bool  # the request is a person-lookup tool call

    def count(self, scope: str, window: str) -> int:
        return (self.principal if scope == "principal" else self.deployment)[window]

    def cedar(self) -> dict[str, Any]:
        out: dict[str, Any] = {"lookup": self.lookup, "subjects": self.subjects}
        for window in WINDOWS:
            out[f"distinct_subjects_{window}"] = self.principal[window]
            out[f"deployment_distinct_subjects_{window}"] = self.deployment[window]
        return out
