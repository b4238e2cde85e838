"""The approval API: list, show, approve, reject, redeem, stats, the signing public key.

Every route but the public key needs a key. Another deployment's approvals do not exist
for the caller (404); only principals with the required role decide, and nobody decides on
their own request.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import PlainTextResponse

from redline.approvals.models import (
    ApprovalDetail,
    ApprovalStats,
    ApprovalSummary,
    ApproveBody,
    RedeemBody,
    RedeemResult,
    RejectBody,
)
from redline.gateway.deps import PrincipalDep, ServicesDep
from redline.gateway.threads import in_thread

router = APIRouter(prefix="/v1/approvals", tags=["approvals"])
ApprovalId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


@router.get("", response_model=list[ApprovalSummary])
async def list_approvals(
    services: ServicesDep,
    principal: PrincipalDep,
    state: Annotated[
        Literal["pending", "approved", "rejected", "expired", "all"], Query()
    ] = "pending",
    deployment: Annotated[str | None, Query(max_length=128, description="admin only")] = None,
) -> list[ApprovalSummary]:
    """Approvals visible to the caller: their deployment's, for a role they hold
    (auditors and admins see all of theirs; requesters see their own)."""
    return await in_thread(
        services.approvals.summaries, principal, None if state == "all" else state, deployment
    )


@router.get("/stats", response_model=ApprovalStats)
async def approval_stats(
    services: ServicesDep,
    principal: PrincipalDep,
    deployment: Annotated[str | None, Query(max_length=128, description="admin only")] = None,
) -> ApprovalStats:
    """Human-control signals: time from hold to decision, approval rate per approver, and
    approvals faster than the minimum review time."""
    return await in_thread(services.approvals.stats, principal, deployment)


@router.get("/public-key", response_class=PlainTextResponse)
async def public_key(services: ServicesDep) -> str:
    """The Ed25519 public key (PEM) that verifies action tokens. Public, like any public
    key: an effector that checks tokens needs no API key to fetch it."""
    return services.approvals.public_key_pem()


@router.get("/{approval_id}", response_model=ApprovalDetail)
async def show_approval(
    approval_id: ApprovalId, services: ServicesDep, principal: PrincipalDep
) -> ApprovalDetail:
    """One approval with the model's rationale (categories, evidence, deciding rules) and
    the request content."""
    return await in_thread(services.approvals.detail, approval_id, principal)


@router.post("/{approval_id}/approve", response_model=ApprovalDetail)
async def approve(
    approval_id: ApprovalId,
    services: ServicesDep,
    principal: PrincipalDep,
    body: ApproveBody | None = None,
) -> ApprovalDetail:
    """Approve (needs the required role; not one's own request; once per approver)."""
    comment = body.comment if body else ""
    return await in_thread(services.approvals.approve, approval_id, principal, comment)


@router.post("/{approval_id}/reject", response_model=ApprovalDetail)
async def reject(
    approval_id: ApprovalId, body: RejectBody, services: ServicesDep, principal: PrincipalDep
) -> ApprovalDetail:
    """Reject, with a reason (needs the required role; not one's own request)."""
    return await in_thread(services.approvals.reject, approval_id, principal, body.reason)


@router.post("/{approval_id}/redeem", response_model=RedeemResult)
async def redeem(
    approval_id: ApprovalId, body: RedeemBody, services: ServicesDep, principal: PrincipalDep
) -> RedeemResult:
    """Spend an action token once: the effector's check just before it acts. A second
    redemption is refused (409)."""
    return await in_thread(
        services.approvals.redeem, approval_id, body.token, principal, body.action
    )
