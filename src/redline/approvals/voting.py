"""Casting a vote on a pending approval, inside the caller's transaction: the vote's row,
and the approval's new state once the votes cover its roles and count."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update

from redline.approvals.models import ApprovalState
from redline.auth.principal import Principal, join_roles, parse_roles
from redline.errors import ConflictError
from redline.tables import approvals_table, votes_table


@dataclass
class Outcome:
    """What a decision on an approval leads to, acted on after its transaction commits."""

    event: str | None = None  # ledger event to append after commit
    error: Exception | None = None
    detail: dict[str, Any] | None = None


def cast_vote(
    conn: Connection,
    row: Row[Any],
    required: frozenset[str],
    principal: Principal,
    vote: str,
    text: str,
    now: float,
    token_ttl_s: int,
) -> Outcome:
    if conn.execute(
        select(votes_table.c.approver).where(
            votes_table.c.approval_id == row.id, votes_table.c.approver == principal.id
        )
    ).first():
        raise ConflictError(
            "you have already decided on this approval; "
            "the two-person rule needs a different approver"
        )
    conn.execute(
        insert(votes_table).values(
            approval_id=row.id,
            approver=principal.id,
            roles=join_roles(principal.roles & required),
            vote=vote,
            at=now,
            comment=text[:2000],
        )
    )
    if vote == "reject":
        conn.execute(
            update(approvals_table)
            .where(approvals_table.c.id == row.id)
            .values(state=ApprovalState.REJECTED, decided_at=now, reject_reason=text[:2000])
        )
        return Outcome("rejected", detail={"approver": principal.id, "reason": text[:1000]})
    votes = approve_votes(conn, row.id)
    covered = {r for v in votes for r in parse_roles(v.roles)}
    if len(votes) < row.approvers_needed or not required <= covered:
        return Outcome(
            "vote",
            detail={
                "approver": principal.id,
                "approvals": len(votes),
                "needed": row.approvers_needed,
            },
        )
    approvers = sorted(v.approver for v in votes)
    return _grant(conn, row, approvers, int(now) + token_ttl_s, now)


def _grant(
    conn: Connection, row: Row[Any], approvers: list[str], not_after: int, now: float
) -> Outcome:
    """Approved, usable until `not_after`. No token yet: only the resume that re-decides
    the request issues one (ApprovalService.issue_token)."""
    conn.execute(
        update(approvals_table)
        .where(approvals_table.c.id == row.id)
        .values(state=ApprovalState.APPROVED, decided_at=now, not_after=not_after)
    )
    return Outcome("approved", detail={"approvers": approvers, "not_after": not_after})


def approve_votes(conn: Connection, approval_id: str) -> Sequence[Row[Any]]:
    return conn.execute(
        select(votes_table).where(
            votes_table.c.approval_id == approval_id, votes_table.c.vote == "approve"
        )
    ).all()
