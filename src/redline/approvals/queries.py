"""The read side of the approval workflow: rows, who may see them, and their API shapes.

Nothing here writes; the service expires due approvals before it answers from these.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, Engine, Row, select

from redline.approvals.hold import bound_key
from redline.approvals.models import ApprovalDetail, ApprovalSummary, Vote
from redline.auth.principal import Principal, parse_roles
from redline.errors import ForbiddenError, NotFoundError
from redline.ledger.content import unseal_text
from redline.tables import approvals_table, votes_table


def fetch_row(conn: Connection, approval_id: str) -> Row[Any] | None:
    return conn.execute(select(approvals_table).where(approvals_table.c.id == approval_id)).first()


def load_row(engine: Engine, approval_id: str) -> Row[Any]:
    """The approval's row; NotFoundError when there is none."""
    with engine.connect() as conn:
        row = fetch_row(conn, approval_id)
    if row is None:
        raise NotFoundError(f"no approval {approval_id!r}")
    return row


def required_roles(row: Row[Any]) -> frozenset[str]:
    return frozenset(parse_roles(row.roles_required))


def check_visible(principal: Principal, row: Row[Any]) -> None:
    """NotFoundError for another deployment's approval (its existence is not revealed),
    ForbiddenError for one the caller has no role to decide and did not request."""
    if not principal.is_admin and principal.deployment != row.deployment:
        raise NotFoundError(f"no approval {row.id!r}")
    if principal.is_admin or principal.has_role("auditor") or principal.id == row.requester:
        return
    check_may_decide(principal, required_roles(row))


def check_may_decide(principal: Principal, required: frozenset[str]) -> None:
    if not principal.roles & required:
        raise ForbiddenError(
            f"deciding this approval needs the role {' and '.join(sorted(required))}"
        )


def decider_refusal(
    principal: Principal, deployment: str, requester: str, required: frozenset[str]
) -> ForbiddenError | None:
    """Why this principal may not vote on an approval of `deployment` asked by `requester`
    that needs one of `required`; None when they may. The service raises it; the console
    asks it to decide whether to offer the vote at all."""
    if principal.deployment != deployment:  # an admin may read across, not vote
        return ForbiddenError(
            "an approval is decided only by principals of its own deployment "
            f"({deployment!r}); you belong to {principal.deployment!r}"
        )
    try:
        check_may_decide(principal, required)
    except ForbiddenError as exc:
        return exc
    if principal.id == requester:
        return ForbiddenError("nobody decides on their own request")
    return None


def summary_fields(row: Row[Any], n_approvals: int) -> dict[str, Any]:
    return dict(
        id=row.id,
        deployment=row.deployment,
        requester=row.requester,
        subject_hash=row.subject_hash,
        kind=row.kind,
        state=row.state,
        roles_required=list(parse_roles(row.roles_required)),
        approvers_needed=row.approvers_needed,
        approvals_so_far=n_approvals,
        categories=json.loads(row.categories),
        decided_by=json.loads(row.decided_by),
        decision_index=row.decision_index,
        created_at=row.created_at,
        expires_at=row.expires_at,
        decided_at=row.decided_at,
        redeemed=row.redeemed_at is not None,
    )


def _unseal_json(stored: str | None, content_key: bytes | None, bound_to: str, what: str) -> Any:
    """A sealed JSON column of an approval (hold.sealed), opened; fails closed if altered.
    {} where nothing was stored (the parameters of a hold outside the chat gateway)."""
    return {} if stored is None else json.loads(unseal_text(stored, content_key, bound_to, what))


def approval_detail(
    engine: Engine, row: Row[Any], content_key: bytes | None = None
) -> ApprovalDetail:
    """The approval with its rationale, content (decrypted under `content_key`) and votes;
    never its action token (only the resume that re-decides the request hands that out)."""
    with engine.connect() as conn:
        votes = conn.execute(
            select(votes_table)
            .where(votes_table.c.approval_id == row.id)
            .order_by(votes_table.c.at)
        ).all()
    n = sum(v.vote == "approve" for v in votes)
    return ApprovalDetail(
        **summary_fields(row, n),
        reason=row.reason,
        evidence=json.loads(row.evidence),
        release=json.loads(row.release),
        content=_unseal_json(row.content, content_key, row.id, f"approval {row.id}'s content"),
        bound=_unseal_json(
            row.bound, content_key, bound_key(row.id), f"approval {row.id}'s parameters"
        ),
        votes=[
            Vote(
                approver=v.approver,
                roles=list(parse_roles(v.roles)),
                vote=v.vote,
                at=v.at,
                comment=v.comment,
            )
            for v in votes
        ],
        reject_reason=row.reject_reason,
    )


def approval_summaries(
    engine: Engine, principal: Principal, state: str | None, deployment: str | None
) -> list[ApprovalSummary]:
    """The approvals the caller may see, oldest first (at most 1,000)."""
    table = approvals_table
    query = select(table).order_by(table.c.created_at)
    if not principal.is_admin:
        query = query.where(table.c.deployment == principal.deployment)
    elif deployment:
        query = query.where(table.c.deployment == deployment)
    if state:
        query = query.where(table.c.state == state)
    with engine.connect() as conn:
        rows = conn.execute(query.limit(1000)).all()
        counts = _approve_counts(conn, [r.id for r in rows])
    out = []
    for row in rows:
        try:
            check_visible(principal, row)
        except (ForbiddenError, NotFoundError):
            continue
        out.append(ApprovalSummary(**summary_fields(row, counts.get(row.id, 0))))
    return out


def _approve_counts(conn: Connection, approval_ids: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for v in conn.execute(
        select(votes_table.c.approval_id).where(
            votes_table.c.vote == "approve", votes_table.c.approval_id.in_(approval_ids)
        )
    ):
        counts[v.approval_id] = counts.get(v.approval_id, 0) + 1
    return counts
