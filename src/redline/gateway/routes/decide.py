"""POST /v1/decide, GET /v1/policies, GET /healthz."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Response
from pydantic import BaseModel

from redline.approvals.api import APPROVAL_HEADER
from redline.approvals.flow import decide_with_approvals
from redline.auth.principal import Principal
from redline.classify.load import is_degraded
from redline.decision import Decision
from redline.gateway.deps import PrincipalDep, ServicesDep
from redline.gateway.services import Services
from redline.gateway.threads import in_thread
from redline.gateway.timing import server_timing
from redline.ledger.store import LedgerStore
from redline.subject import DecideRequest

router = APIRouter()


class RuleInfo(BaseModel):
    id: str
    effect: str
    category: str | None
    reason: str


class PackInfo(BaseModel):
    name: str
    version: str
    title: str
    description: str
    sha256: str
    active: bool
    rules: list[RuleInfo]


class PoliciesResponse(BaseModel):
    active: list[str]
    packs: list[PackInfo]


@router.post("/v1/decide", response_model=Decision, tags=["decide"])
async def decide(
    body: DecideRequest,
    services: ServicesDep,
    principal: PrincipalDep,
    response: Response,
    approval_id: Annotated[str | None, Header(alias=APPROVAL_HEADER, max_length=64)] = None,
) -> Decision:
    """Classify the text, conversation or tool call, evaluate the packs in force, record
    the decision on the ledger, and answer. Policy choice is the server's, not the client's:
    the principal and deployment come from the API key. A hold opens an approval
    (`approval_id`); repeat the same request with the `Redline-Approval-Id` header to resume.
    The `Server-Timing` header gives the milliseconds of classify, policy and ledger."""
    services.budget.charge(principal.id, body.subject())  # before any model runs
    decision = await in_thread(_decide, services, body, principal, approval_id)
    response.headers.update(server_timing(decision.timings.items()))
    return decision


def _decide(
    services: Services, body: DecideRequest, principal: Principal, approval_id: str | None
) -> Decision:
    decider = services.decider(principal.deployment)
    return decide_with_approvals(decider, services.approvals, body, principal, approval_id)


@router.get("/v1/policies", response_model=PoliciesResponse, tags=["policies"])
async def policies(services: ServicesDep, principal: PrincipalDep) -> PoliciesResponse:
    active = [p.name for p in services.decider(principal.deployment).packs]
    packs = [
        PackInfo(
            name=p.name,
            version=p.version,
            title=p.title,
            description=p.description,
            sha256=p.sha256,
            active=p.name in active,
            rules=[
                RuleInfo(id=r.id, effect=r.effect, category=r.category, reason=r.reason)
                for r in p.rule_list()
            ],
        )
        for p in services.registry.packs.values()
    ]
    return PoliciesResponse(active=active, packs=packs)


@router.get("/healthz", tags=["health"])
async def healthz(services: ServicesDep, response: Response) -> dict[str, Any]:
    """The status is "ok" only while the ledger can write: nothing is released without a
    ledger entry, so a server whose ledger cannot write is not healthy (503, with why)."""
    store = services.store
    problem = await in_thread(store.write_problem) if isinstance(store, LedgerStore) else None
    if problem is not None:
        response.status_code = 503
    return {
        "status": "ok" if problem is None else "ledger_unwritable",
        "policies": [p.name for p in services.decider().packs],
        "classifier": services.classifier.version,
        "classifier_degraded": is_degraded(services.classifier),
        "ledger_size": store.size(),
        "ledger_writable": problem is None,
        **({"ledger_problem": problem} if problem else {}),
    }
