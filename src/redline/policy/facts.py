"""The attested facts a pack sees, as a hashable value (so evaluations can be memoised)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class Facts:
    authority_ref: bool = False
    senior_review_ref: bool = False
    purpose: str = ""
    us_persons: str = "unknown"
    classification: str = ""
    approvals: frozenset[str] = frozenset()  # roles of the humans who approved
    roles: frozenset[str] = frozenset()  # the requesting principal's roles
    principal: str = "anonymous"

    def with_release(self, attestations: tuple[str, ...], role: str | None) -> Facts:
        """The hypothetical world in which a release was supplied."""
        changes: dict[str, Any] = dict.fromkeys(attestations, True)
        if role is not None:
            changes["approvals"] = self.approvals | {role}
        return replace(self, **changes)

    def attested(self) -> dict[str, Any]:
        """The attested facts that differ from none at all, as the ledger records them
        (so a replay decides on what counted then)."""
        keys = ("authority_ref", "senior_review_ref", "purpose", "us_persons", "classification")
        return {k: getattr(self, k) for k in keys if getattr(self, k) != getattr(_NONE, k)}

    def cedar_context(self) -> dict[str, Any]:
        return {
            "authority_ref": self.authority_ref,
            "senior_review_ref": self.senior_review_ref,
            "purpose": self.purpose,
            "us_persons": self.us_persons,
            "classification": self.classification,
            "approvals": sorted(self.approvals),
        }


_NONE = Facts()
