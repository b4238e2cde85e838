"""The action token's two conditional writes: issued once by the resume that re-decided,
spent once by the effector. Each is one UPDATE guarded by the row's state, so a second
issue or a second spend changes nothing and is refused."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, Row, update

from redline.approvals.models import ApprovalState
from redline.approvals.queries import fetch_row
from redline.auth.principal import Principal
from redline.errors import ConflictError, NotFoundError
from redline.tables import approvals_table


def record_issued(engine: Engine, approval_id: str, requester: Principal, token: str) -> None:
    """Store the token on a resumed approval of this requester that holds none yet."""
    table = approvals_table
    with engine.begin() as conn:
        done = conn.execute(
            update(table)
            .where(
                table.c.id == approval_id,
                table.c.state == ApprovalState.APPROVED,
                table.c.requester == requester.id,
                table.c.deployment == requester.deployment,
                table.c.resumed_at.is_not(None),
                table.c.token.is_(None),
            )
            .values(token=token)
        ).rowcount
    if not done:
        raise ConflictError(f"approval {approval_id} is not resumed, or its token was issued")


def record_spent(engine: Engine, approval_id: str, token: str, now: float) -> Row[Any]:
    """Mark the issued token spent; return the approval's row."""
    table = approvals_table
    with engine.begin() as conn:
        done = conn.execute(
            update(table)
            .where(
                table.c.id == approval_id,
                table.c.state == ApprovalState.APPROVED,
                table.c.redeemed_at.is_(None),
                table.c.token == token,
            )
            .values(redeemed_at=now)
        ).rowcount
        row = fetch_row(conn, approval_id)
    if row is None:
        raise NotFoundError(f"no approval {approval_id!r}")
    if not done:
        raise ConflictError(f"the action token of approval {approval_id} was already used")
    return row
