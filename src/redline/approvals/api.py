"""The approval workflow as the rest of Redline sees it (the gateway and /v1/decide).

A hold opens an approval request bound to the exact subject (its canonical SHA-256).
A client resumes by repeating the same request with the approval id: if the approval
is granted, unexpired and for this very subject and requester, the approvers' roles
enter the facts, the packs are evaluated again, and the action token is returned.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from redline.auth.principal import Principal
from redline.decision import Decision
from redline.subject import Subject

APPROVAL_HEADER = "Redline-Approval-Id"


@dataclass(frozen=True)
class Grant:
    """A granted approval, checked against the repeated request."""

    approval_id: str
    roles: frozenset[str]  # roles of the approvers: they enter the facts as `approvals`
    token: str  # the signed action token for the effector


class ApprovalGate(Protocol):
    """What the decide path needs of the approval workflow: open an approval for a hold,
    and check the grant a resumed request names."""

    def open_for_hold(self, decision: Decision, subject: Subject, requester: Principal) -> str:
        """Create (durably, with a ledger event) the approval request for a hold; its id."""
        ...

    def grant_for(self, approval_id: str, subject: Subject, requester: Principal) -> Grant:
        """The grant for a resumed request. Raises ConflictError if pending, rejected,
        expired or already redeemed, ForbiddenError if subject or requester differ."""
        ...
