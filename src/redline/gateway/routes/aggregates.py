"""GET /v1/aggregates: a deployment's windows and counts, subjects as keyed hashes only.

For an admin, or an auditor of that deployment (another deployment's is not found).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from redline.aggregate.store import DEPLOYMENT_SCOPE
from redline.aggregate.tally import WINDOWS
from redline.clock import utcnow
from redline.errors import NotFoundError
from redline.gateway.deps import PrincipalDep, ServicesDep, require_deployment, require_role
from redline.gateway.threads import in_thread

router = APIRouter(prefix="/v1/aggregates", tags=["aggregates"])


class SubjectOut(BaseModel):
    hash: str  # HMAC-SHA256 under the deployment's secret
    last_seen: str


class ScopeOut(BaseModel):
    scope: str  # "deployment", or "principal"
    principal: str | None
    counts: dict[str, int]  # window -> distinct subjects
    subjects: list[SubjectOut]


class AggregatesOut(BaseModel):
    deployment: str
    windows: dict[str, float]  # window -> seconds
    scopes: list[ScopeOut]


@router.get("", response_model=AggregatesOut)
async def show(
    services: ServicesDep,
    principal: PrincipalDep,
    deployment: Annotated[str | None, Query(max_length=256)] = None,
) -> AggregatesOut:
    """Distinct surveillance subjects per window, for the deployment and each principal."""
    name = deployment or principal.deployment
    require_role(principal, "auditor", "admin")
    require_deployment(principal, name)
    if name not in services.settings.deployments:
        raise NotFoundError(f"unknown deployment {name!r}")
    found = await in_thread(services.aggregates.store.show, name)
    scopes = [
        ScopeOut(
            scope="deployment" if s.scope == DEPLOYMENT_SCOPE else "principal",
            principal=None if s.scope == DEPLOYMENT_SCOPE else s.scope,
            counts=s.counts,
            subjects=[SubjectOut(hash=h, last_seen=utcnow(t, "seconds")) for h, t in s.subjects],
        )
        for s in found
    ]
    return AggregatesOut(deployment=name, windows=dict(WINDOWS), scopes=scopes)
