"""The packs in force for the signed-in principal's deployment: rules, clauses, versions."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from redline.console.web import PREFIX, SessionDep, render, services_of
from redline.gateway.routes import decide as api

router = APIRouter(prefix=PREFIX, include_in_schema=False)


@router.get("/policies")
async def policies(request: Request, session: SessionDep) -> Response:
    found = await api.policies(services_of(request), session.principal)
    active = [p for name in found.active for p in found.packs if p.name == name]
    deployment = session.principal.deployment
    config = services_of(request).settings.deployments.get(deployment)
    return render(request, "policies.html", session, packs=active, config=config)
