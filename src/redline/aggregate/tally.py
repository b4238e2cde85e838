"""The windows and the counts a pack sees as `context.aggregate` (Cedar action "aggregate")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# The sliding windows, by the name packs use in `@window(...)` and in the context's
# attribute names (distinct_subjects_1h ...). A new window is a schema change.
WINDOWS: dict[str, float] = {"1h": 3600.0, "24h": 86400.0}
SCOPES = ("principal", "deployment")


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
