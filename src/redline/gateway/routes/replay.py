"""POST /v1/replay: an admin re-decides its deployment's recorded traffic under a candidate.

The admin's own deployment only: content is read back to be classified again, and another
deployment's content is not this admin's to read.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from redline.errors import StoreError
from redline.gateway.deps import PrincipalDep, ServicesDep, require_role
from redline.gateway.threads import in_thread
from redline.ledger.store import LedgerStore
from redline.policy.replay import parse_since, replay

router = APIRouter(tags=["policies"])


class ReplayRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    since: str = Field(default="7d", max_length=16, description="A window like 7d, 24h, 90m.")
    policy: list[str] = Field(min_length=1, max_length=16, description="The candidate packs.")
    against: list[str] | None = Field(
        default=None, max_length=16, description="Packs to compare with (default: in force)."
    )


@router.post("/v1/replay")
async def replay_route(
    body: ReplayRequest, services: ServicesDep, principal: PrincipalDep
) -> dict[str, Any]:
    """Re-decide the deployment's decisions since `since` under the packs in force and
    under the candidate: counts, the changed decisions and their clauses. Nothing is
    decided for real: no approval, no forwarding; the ledger gains one `replay` entry
    recording who replayed what, and the result's SHA-256."""
    require_role(principal, "admin")
    parse_since(body.since)  # a bad window is a 400 before any work
    store = services.store
    if not isinstance(store, LedgerStore):
        raise StoreError("this server's decision store is not a Merkle ledger")
    candidate = services.registry.select(body.policy)
    if body.against is not None:
        current = services.registry.select(body.against)
    else:
        current = services.decider(principal.deployment).packs

    def work() -> dict[str, Any]:
        return replay(store, services.classifier, current, candidate,
                      deployment=principal.deployment, principal=principal.id,
                      since=body.since)  # fmt: skip

    return await in_thread(work)
