"""Recent decisions from the ledger, filtered by decision, category, pack, principal, time.

Who sees which rows: auditors, approvers, commanders and admins their deployment's (an
admin every deployment's); a requester their own. Who reads content: whoever judges it (an
approver, commander or admin) and the requester of their own; an auditor sees the salted
commitment, never the content, as the ledger was built for.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import deque
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError

from redline.auth.principal import Principal
from redline.console.bundle import ledger_store
from redline.console.web import PREFIX, SessionDep, render, services_of
from redline.errors import RedlineError
from redline.gateway.threads import in_thread
from redline.ledger.entry import LedgerEntry
from redline.ledger.store import LedgerStore
from redline.taxonomy import CATEGORIES

log = logging.getLogger("redline.console")
router = APIRouter(prefix=PREFIX, include_in_schema=False)
WINDOW = 5000  # the newest entries a page searches
SHOWN = 200
CONTENT_ROLES = frozenset({"approver", "commander", "admin"})
LIST_ROLES = CONTENT_ROLES | {"auditor"}


@dataclass(frozen=True)
class Filters:
    decision: str = ""
    category: str = ""
    pack: str = ""
    principal: str = ""
    since: str = ""  # datetime-local, UTC
    until: str = ""

    def bounds(self) -> tuple[dt.datetime | None, dt.datetime | None]:
        return _when(self.since), _when(self.until)


def _when(text: str) -> dt.datetime | None:
    if not text:
        return None
    try:
        return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)
    except ValueError:
        return None


def may_see(principal: Principal, entry: LedgerEntry, roles: frozenset[str]) -> bool:
    """An admin sees every entry; anyone else only entries of their own deployment, and only
    with one of `roles` (LIST_ROLES to list it, CONTENT_ROLES to read its content) or as
    the entry's own requester."""
    if principal.is_admin:
        return True
    if principal.deployment != entry.deployment:
        return False
    return bool(principal.roles & roles) or principal.id == entry.principal


def matches(entry: LedgerEntry, f: Filters) -> bool:
    if entry.kind != "decision" or (f.decision and entry.decision != f.decision):
        return False
    if f.principal and entry.principal != f.principal:
        return False
    if f.pack and f.pack not in {d.policy for d in entry.decided_by}:
        return False
    if f.category:
        named = {d.category for d in entry.decided_by}
        if f.category not in named and entry.categories.get(f.category, 0.0) < 0.5:
            return False
    since, until = f.bounds()
    if since or until:
        at = dt.datetime.fromisoformat(entry.time.replace("Z", "+00:00"))
        if (since and at < since) or (until and at > until):
            return False
    return True


@dataclass(frozen=True)
class Row:
    index: int
    entry: LedgerEntry
    content: Any = None
    content_note: str = ""  # why no content is shown


def _content(store: LedgerStore, index: int) -> tuple[Any, str]:
    try:
        return store.reveal(index)[1], ""
    except RedlineError as exc:
        return None, f"content unavailable: {exc}"


def find(store: LedgerStore, principal: Principal, f: Filters) -> list[Row]:
    """The newest matching decisions this principal may list, newest first."""
    size = store.size()
    recent: deque[tuple[int, bytes]] = deque(maxlen=WINDOW)
    for index, body, _ in store.scan(max(0, size - WINDOW)):
        recent.append((index, body))
    rows: list[Row] = []
    for index, body in reversed(recent):
        try:
            entry = LedgerEntry.model_validate_json(body)
        except ValidationError:
            log.error("ledger entry %d does not parse; run `redline ledger verify`", index)
            continue
        if not (may_see(principal, entry, LIST_ROLES) and matches(entry, f)):
            continue
        if may_see(principal, entry, CONTENT_ROLES):
            content, note = _content(store, index)
            rows.append(Row(index, entry, content, note))
        else:
            rows.append(Row(index, entry, None, "commitment only: your role does not read content"))
        if len(rows) >= SHOWN:
            break
    return rows


@router.get("/decisions")
async def decisions(
    request: Request,
    session: SessionDep,
    decision: Annotated[str, Query(pattern="^(|allow|hold|deny)$")] = "",
    category: Annotated[str, Query(max_length=64)] = "",
    pack: Annotated[str, Query(max_length=64)] = "",
    principal: Annotated[str, Query(max_length=128)] = "",
    since: Annotated[str, Query(max_length=32)] = "",
    until: Annotated[str, Query(max_length=32)] = "",
) -> Response:
    services = services_of(request)
    f = Filters(decision, category, pack, principal, since, until)
    rows = await in_thread(find, ledger_store(services), session.principal, f)
    packs = sorted(services.registry.packs)
    return render(
        request, "decisions.html", session, rows=rows, f=f, categories=CATEGORIES, packs=packs,
        shown=SHOWN, window=WINDOW,
    )  # fmt: skip
