"""The auditor's ledger pages: the latest signed checkpoint, an entry's inclusion proof and
the consistency of two checkpoints, both verified in the browser (static/verify.js), and
the export bundle.

The JSON under /console/api/ledger gives the browser what it checks: the entry's exact
bytes, the proof, and the signed checkpoint notes, whose roots the browser reads itself.
Access is the ledger API's: its route functions run with the session's principal.
"""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from redline.console.bundle import bundle_response, ledger_store
from redline.console.web import PREFIX, SessionDep, render, services_of
from redline.errors import NotFoundError
from redline.gateway.routes import ledger as api
from redline.gateway.threads import in_thread
from redline.ledger.checkpoint import Checkpoint

router = APIRouter(prefix=PREFIX, include_in_schema=False)
Index = Annotated[int, Path(ge=0, le=2**48)]


def _size_of(note: str) -> int:
    return Checkpoint.parse(note.split("\n\n", 1)[0] + "\n").size


def _verifier_text(request: Request) -> str:
    checkpointer = services_of(request).checkpointer
    return checkpointer.signer.verifier().text() if checkpointer else ""


@router.get("/ledger")
async def ledger_page(request: Request, session: SessionDep) -> Response:
    services = services_of(request)
    try:
        latest = await api.checkpoint(services, session.principal, False)
    except NotFoundError as exc:  # a server without a ledger key signs no checkpoints
        return render(request, "ledger.html", session, 404, cp=None, sizes=[], missing=str(exc))
    notes = await in_thread(ledger_store(services).checkpoints)
    sizes = sorted({_size_of(n) for n in notes})
    return render(
        request, "ledger.html", session, cp=latest, sizes=sizes, verifier=_verifier_text(request)
    )


@router.get("/ledger/entry")
async def entry_lookup(
    request: Request, session: SessionDep, index: Annotated[int, Query(ge=0)]
) -> Response:
    return await entry_page(index, request, session)


@router.get("/ledger/entries/{index}")
async def entry_page(index: Index, request: Request, session: SessionDep) -> Response:
    found = await api.entry(index, services_of(request), session.principal)
    return render(request, "entry.html", session, e=found, verifier=_verifier_text(request))


@router.get("/api/ledger/entries/{index}/proof")
async def entry_proof(index: Index, request: Request, session: SessionDep) -> JSONResponse:
    """The entry's stored bytes, its inclusion proof, and the signed checkpoint it is proved
    against (signed now when the latest does not cover the entry yet)."""
    services, principal = services_of(request), session.principal
    await api.entry(index, services, principal)  # the API's role and deployment checks
    latest = await api.checkpoint(services, principal, False)
    if latest.size <= index:
        latest = await api.checkpoint(services, principal, True)
    proof = await api.inclusion(services, principal, index, latest.size)
    body = await in_thread(ledger_store(services).entry_bytes, index)
    out: dict[str, Any] = {
        "index": index,
        "size": latest.size,
        "entry": base64.b64encode(body).decode(),
        "proof": proof.proof,
        "note": latest.note,
        "server_leaf_hash": proof.leaf_hash,
    }
    return JSONResponse(out)


@router.get("/api/ledger/consistency")
async def consistency(
    request: Request,
    session: SessionDep,
    first: Annotated[int, Query(alias="from", ge=1)],
    second: Annotated[int, Query(alias="to", ge=1)],
) -> JSONResponse:
    """The consistency proof between two signed checkpoints, with both signed notes."""
    services, principal = services_of(request), session.principal
    proof = await api.consistency(services, principal, first, second)
    notes = await in_thread(ledger_store(services).checkpoints)
    by_size = {_size_of(n): n for n in notes}
    missing = [s for s in (first, second) if s not in by_size]
    if missing:
        raise NotFoundError(f"no signed checkpoint of size {missing[0]}")
    return JSONResponse(
        {"from": first, "to": second, "proof": proof.proof,
         "first_note": by_size[first], "second_note": by_size[second]}
    )  # fmt: skip


@router.get("/ledger/bundle")
async def bundle(request: Request, session: SessionDep) -> Response:
    """The export bundle (zip) for offline verification with `redline ledger verify`."""
    return await bundle_response(services_of(request), session.principal, _verifier_text(request))
