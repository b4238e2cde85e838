"""Who asks and what they attest: the principal (from authentication) and the context.

Authentication is `redline.auth.deps.current_principal` (Authorization: Bearer KEY).
Where that module is absent (a build without authentication) every caller is the
anonymous principal of the default deployment, which no deployment trusts to attest.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Annotated, Any, cast

from fastapi import Depends, Request

from redline.approvals.api import APPROVAL_HEADER, Approvals
from redline.auth.principal import Principal
from redline.gateway.services import Services
from redline.subject import Context, PrincipalRef

# Attestations a deploying system may pass as headers; they count only if the deployment
# trusts the authenticated principal for them (SPEC.md), otherwise they are ignored.
ATTESTATION_HEADERS = {
    "authority_ref": "Redline-Authority-Ref",
    "senior_review_ref": "Redline-Senior-Review-Ref",
    "purpose": "Redline-Purpose",
    "classification": "Redline-Classification",
    "us_persons": "Redline-US-Persons",
}


async def anonymous_principal(request: Request) -> Principal:
    services: Services = request.app.state.services
    deployment = services.settings.default_deployment
    return Principal(id="anonymous", name="anonymous", roles=frozenset(), deployment=deployment)


def _principal_dependency() -> Callable[..., Any]:
    try:
        module = importlib.import_module("redline.auth.deps")
    except ImportError:
        return anonymous_principal
    dep = getattr(module, "current_principal", None)
    return cast(Callable[..., Any], dep) if callable(dep) else anonymous_principal


PrincipalDep = Annotated[Principal, Depends(_principal_dependency())]


def context_of(request: Request, principal: Principal) -> Context:
    given: dict[str, Any] = {}
    for field, header in ATTESTATION_HEADERS.items():
        if (value := request.headers.get(header)) is not None and value.strip():
            given[field] = value.strip()
    if given.get("us_persons") not in (None, "true", "false", "unknown"):
        given["us_persons"] = "unknown"
    return Context(
        principal=PrincipalRef(id=principal.id, roles=tuple(sorted(principal.roles))),
        deployment=principal.deployment,
        **given,
    )


def approval_ids(request: Request) -> list[str]:
    raw = request.headers.get(APPROVAL_HEADER, "")
    return list(dict.fromkeys(p.strip() for p in raw.split(",") if p.strip()))


def approvals_of(services: Services) -> Approvals | None:
    """The approvals service, where this build has one."""
    return cast("Approvals | None", getattr(services, "approvals", None))
