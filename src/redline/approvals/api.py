"""The approval workflow as the rest of Redline sees it (the gateway and /v1/decide).

A hold opens an approval request bound to the exact subject (its canonical SHA-256).
A client resumes by repeating the same request with the approval id: if the approval
is granted, unexpired and for this very request (its keyed hash) and requester, the
approvers' roles enter the facts and the packs are evaluated again; only when that
decision allows is the action token issued.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from redline.auth.principal import Principal
from redline.decision import Decision
from redline.subject import Subject

APPROVAL_HEADER = "Redline-Approval-Id"


@dataclass(frozen=True)
class Grant:
    """A granted approval, checked against the repeated request."""

    approval_id: str
    roles: frozenset[str]  # roles of the approvers: they enter the facts as `approvals`


class ApprovalGate(Protocol):
    """What the decide path needs of the approval workflow: open an approval for a hold,
    and check the grant a resumed request names."""

    def open_for_hold(
        self,
        decision: Decision,
        subject: Subject,
        requester: Principal,
        bound: Mapping[str, Any] | None = None,
    ) -> str:
        """Create (durably, with a ledger event) the approval request for a hold; its id.
        `bound`: the model and parameters the request would be forwarded with, shown to
        the approvers (the subject hash binds them already)."""
        ...

    def grant_for(self, approval_id: str, subject_hash: str, requester: Principal) -> Grant:
        """The grant for a resumed request (`subject_hash`: its keyed hash, as the decider
        computes it). Raises ConflictError if pending, rejected, expired or already used,
        ForbiddenError if the request or requester differ."""
        ...

    def issue_token(self, grant: Grant, action: Subject, requester: Principal) -> str:
        """The signed action token, once the resumed request was decided allow."""
        ...
