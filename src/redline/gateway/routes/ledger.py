"""GET /v1/ledger/...: checkpoints, entries and proofs, for auditors.

Hashes and proofs reveal no content, so every auditor may fetch them; an entry is shown
only to an admin or to an auditor of the entry's deployment.
"""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from redline.errors import NotFoundError, StoreError
from redline.gateway.deps import PrincipalDep, ServicesDep, require_deployment, require_role
from redline.gateway.services import Services
from redline.gateway.threads import in_thread
from redline.ledger.store import LedgerStore

router = APIRouter(prefix="/v1/ledger", tags=["ledger"])
AUDIT_ROLES = ("auditor", "admin")


class CheckpointOut(BaseModel):
    origin: str
    size: int
    root: str  # base64, as in the note
    note: str  # the C2SP signed note


class EntryOut(BaseModel):
    index: int
    leaf_hash: str
    entry: dict[str, Any]


class InclusionOut(BaseModel):
    index: int
    size: int
    leaf_hash: str
    root: str
    proof: list[str]


class ConsistencyOut(BaseModel):
    first: int
    second: int
    first_root: str
    second_root: str
    proof: list[str]


def _b64(h: bytes) -> str:
    return base64.b64encode(h).decode()


def _ledger(services: Services) -> LedgerStore:
    if not isinstance(services.store, LedgerStore):
        raise StoreError("this server's decision store is not a Merkle ledger")
    return services.store


def _checkpoint(services: Services, fresh: bool) -> CheckpointOut:
    from redline.ledger.checkpoint import Checkpoint

    store = _ledger(services)
    note = store.latest_checkpoint()
    if services.checkpointer is not None and (fresh or note is None):
        note = services.checkpointer.issue()
    if note is None:
        raise NotFoundError("no checkpoint has been signed (the server has no ledger key)")
    cp = Checkpoint.parse(note.split("\n\n", 1)[0] + "\n")
    return CheckpointOut(origin=cp.origin, size=cp.size, root=_b64(cp.root), note=note)


@router.get("/checkpoint", response_model=CheckpointOut)
async def checkpoint(
    services: ServicesDep,
    principal: PrincipalDep,
    fresh: Annotated[bool, Query(description="Sign one for the current size now.")] = False,
) -> CheckpointOut:
    """The latest signed checkpoint (C2SP tlog-checkpoint); `fresh=true` signs one now."""
    require_role(principal, *AUDIT_ROLES)
    return await in_thread(_checkpoint, services, fresh)


@router.get("/entries/{index}", response_model=EntryOut)
async def entry(index: int, services: ServicesDep, principal: PrincipalDep) -> EntryOut:
    """One entry as recorded (the exact JSON that was hashed) and its leaf hash."""
    require_role(principal, *AUDIT_ROLES)
    store = _ledger(services)
    if index < 0:
        raise NotFoundError(f"no ledger entry {index}")
    found = await in_thread(store.entry, index)
    require_deployment(principal, found.deployment)
    leaf = await in_thread(store.leaf_hash, index)
    return EntryOut(index=index, leaf_hash=_b64(leaf), entry=found.model_dump(mode="json"))


@router.get("/proofs/inclusion", response_model=InclusionOut)
async def inclusion(
    services: ServicesDep,
    principal: PrincipalDep,
    index: Annotated[int, Query(ge=0)],
    size: Annotated[int, Query(ge=1)],
) -> InclusionOut:
    """The RFC 9162 inclusion proof of entry `index` in the tree of `size` entries."""
    require_role(principal, *AUDIT_ROLES)
    store = _ledger(services)

    def work() -> InclusionOut:
        proof = store.inclusion_proof(index, size)
        leaf, root = store.leaf_hash(index), store.root(size)
        return InclusionOut(index=index, size=size, leaf_hash=_b64(leaf), root=_b64(root),
                            proof=[_b64(h) for h in proof])  # fmt: skip

    return await in_thread(work)


@router.get("/proofs/consistency", response_model=ConsistencyOut)
async def consistency(
    services: ServicesDep,
    principal: PrincipalDep,
    first: Annotated[int, Query(alias="from", ge=1)],
    second: Annotated[int, Query(alias="to", ge=1)],
) -> ConsistencyOut:
    """The RFC 9162 consistency proof between the trees of `from` and `to` entries."""
    require_role(principal, *AUDIT_ROLES)
    store = _ledger(services)

    def work() -> ConsistencyOut:
        proof = store.consistency_proof(first, second)
        return ConsistencyOut(first=first, second=second, first_root=_b64(store.root(first)),
                              second_root=_b64(store.root(second)),
                              proof=[_b64(h) for h in proof])  # fmt: skip

    return await in_thread(work)
