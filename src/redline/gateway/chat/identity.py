"""Who asks and what they attest: the principal (`Authorization: Bearer KEY`, see
redline.gateway.deps) and the request context built from it and the attestation headers."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from pydantic import ValidationError

from redline.approvals.api import APPROVAL_HEADER, ApprovalGate
from redline.auth.principal import Principal
from redline.errors import InputError
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


def context_of(request: Request, principal: Principal) -> Context:
    given: dict[str, Any] = {}
    for field, header in ATTESTATION_HEADERS.items():
        if (value := request.headers.get(header)) is not None and value.strip():
            given[field] = value.strip()
    if given.get("us_persons") not in (None, "true", "false", "unknown"):
        given["us_persons"] = "unknown"
    try:
        return Context(
            principal=PrincipalRef(id=principal.id, roles=tuple(sorted(principal.roles))),
            deployment=principal.deployment,
            **given,
        )
    except ValidationError as exc:
        where = ", ".join(str(e["loc"][0]) for e in exc.errors() if e.get("loc"))
        raise InputError(f"invalid attestation header(s): {where}") from None


def approval_ids(request: Request) -> list[str]:
    raw = request.headers.get(APPROVAL_HEADER, "")
    return list(dict.fromkeys(p.strip() for p in raw.split(",") if p.strip()))


def approvals_of(services: Services) -> ApprovalGate:
    return services.approvals
