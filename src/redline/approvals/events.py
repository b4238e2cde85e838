"""The ledger entries of the approval workflow: `approval.<event>`, referring to the held
decision by its ledger index."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Row

from redline.clock import utcnow
from redline.ledger.entry import DecidedByRef, LedgerEntry


def approval_entry(
    event: str, row: Row[Any], actor: str, now: float, detail: dict[str, Any] | None = None
) -> LedgerEntry:
    """The entry for `event` on the approval `row` by `actor`; the deciding rules are
    repeated only on `opened`."""
    decided_by = [
        DecidedByRef(
            policy=d["policy"], rule=d["rule"], effect=d["effect"], category=d.get("category")
        )
        for d in json.loads(row.decided_by)
    ]
    return LedgerEntry(
        kind=f"approval.{event}",
        time=utcnow(now),
        deployment=row.deployment,
        principal=actor,
        subject_hash=row.subject_hash,
        categories={k: round(v, 6) for k, v in json.loads(row.categories).items() if v > 0},
        decided_by=decided_by if event == "opened" else [],
        refers_to=row.decision_index,
        detail={"approval_id": row.id, **(detail or {})},
    )
