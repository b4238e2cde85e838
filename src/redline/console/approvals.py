"""The approvals queue, one approval's rationale, and the approve / reject forms.

Every read and every vote goes through the API's own route functions with the session's
principal: what a page shows and allows is what the API would show and allow.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse, Response

from redline.approvals.models import ApprovalDetail, ApprovalSummary, ApproveBody, RejectBody
from redline.approvals.queries import decider_refusal
from redline.auth.principal import Principal
from redline.console.sessions import Session
from redline.console.web import PREFIX, FormDep, SessionDep, render, services_of
from redline.errors import InputError
from redline.gateway.routes import approvals as api

router = APIRouter(prefix=f"{PREFIX}/approvals", include_in_schema=False)
ApprovalId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


def why_not_decider(
    principal: Principal, approval: ApprovalSummary, voters: frozenset[str] = frozenset()
) -> str | None:
    """Why this principal may not vote on this approval now; None when they may. The
    service's own refusal (deployment, role, own request), then state and a second vote."""
    refusal = decider_refusal(
        principal, approval.deployment, approval.requester, frozenset(approval.roles_required)
    )
    if refusal is not None:
        return str(refusal)
    if approval.state != "pending":
        return f"this approval is {approval.state}"
    if principal.id in voters:
        return "you have voted; the two-person rule needs a different approver"
    return None


def pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False)


@router.get("")
async def queue(request: Request, session: SessionDep) -> Response:
    services = services_of(request)
    pending = await api.list_approvals(services, session.principal, "pending", None)
    mine = [a for a in pending if why_not_decider(session.principal, a) is None]
    others = [a for a in pending if a not in mine]

    def why(a: ApprovalSummary) -> str | None:
        return why_not_decider(session.principal, a)

    return render(request, "approvals.html", session, decidable=mine, others=others, why=why)


@router.get("/queue")
async def queue_rows(request: Request, session: SessionDep) -> Response:
    """The queue's rows alone: what the page's script swaps in to refresh itself."""
    services = services_of(request)
    pending = await api.list_approvals(services, session.principal, "pending", None)
    mine = [a for a in pending if why_not_decider(session.principal, a) is None]
    return render(request, "_queue.html", session, decidable=mine)


@router.get("/{approval_id}")
async def show(approval_id: ApprovalId, request: Request, session: SessionDep) -> Response:
    detail = await api.show_approval(approval_id, services_of(request), session.principal)
    return _detail_page(request, session, detail)


def _detail_page(request: Request, session: Session, detail: ApprovalDetail) -> Response:
    voters = frozenset(v.approver for v in detail.votes)
    return render(
        request,
        "approval.html",
        session,
        a=detail,
        why_not=why_not_decider(session.principal, detail, voters),
        content_json=pretty(detail.content),
    )


@router.post("/{approval_id}/approve")
async def approve(
    approval_id: ApprovalId, request: Request, session: SessionDep, form: FormDep
) -> Response:
    body = ApproveBody(comment=form.get("comment", "")[:2000])
    await api.approve(approval_id, services_of(request), session.principal, body)
    return RedirectResponse(f"{PREFIX}/approvals/{approval_id}", status_code=303)


@router.post("/{approval_id}/reject")
async def reject(
    approval_id: ApprovalId, request: Request, session: SessionDep, form: FormDep
) -> Response:
    reason = form.get("reason", "").strip()
    if not reason:
        raise InputError("a rejection needs a reason")
    body = RejectBody(reason=reason[:2000])
    await api.reject(approval_id, body, services_of(request), session.principal)
    return RedirectResponse(f"{PREFIX}/approvals/{approval_id}", status_code=303)
