"""The authenticated decide path shared by POST /v1/decide (and usable by the gateway):

1. the principal and deployment come from the API key, never from the body;
2. a hold released by an approval opens one (decision.approval_id);
3. a repeated request with the approval id resumes: the grant is checked against this very
   subject and requester, the approvers' roles enter the facts, and only an allow issues
   the signed action token (decision.action_token).
"""

from __future__ import annotations

import logging

from redline.approvals.api import ApprovalGate
from redline.auth.principal import Principal
from redline.decider import Decider
from redline.decision import Decision
from redline.errors import StoreError
from redline.subject import DecideRequest, PrincipalRef

log = logging.getLogger("redline.approvals")


def bind(request: DecideRequest, principal: Principal) -> DecideRequest:
    """The request with its context's principal and deployment set from authentication."""
    ref = PrincipalRef(id=principal.id, roles=tuple(sorted(principal.roles)))
    context = request.context.model_copy(
        update={"principal": ref, "deployment": principal.deployment}
    )
    return request.model_copy(update={"context": context})


def decide_with_approvals(
    decider: Decider,
    approvals: ApprovalGate,
    request: DecideRequest,
    principal: Principal,
    approval_id: str | None,
) -> Decision:
    """Decide `request` for `principal` with the deployment's `decider`; resume the
    approval `approval_id` when given, open one for a releasable hold otherwise."""
    request = bind(request, principal)
    if approval_id:
        subject = request.subject()
        grant = approvals.grant_for(approval_id, decider.subject_hash(subject), principal)
        decision = decider.decide(request, approvals=grant.roles)
        decision.approval_id = grant.approval_id
        if decision.decision == "allow":
            decision.action_token = approvals.issue_token(grant, subject, principal)
        return decision
    decision = decider.decide(request)
    if (
        decision.decision == "hold"
        and decision.release is not None
        and decision.release.roles
        and decision.ledger_index is not None
    ):
        try:
            decision.approval_id = approvals.open_for_hold(decision, request.subject(), principal)
        except StoreError:
            log.error("could not open an approval for a hold; the hold stands")
    return decision
