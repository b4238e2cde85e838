"""Human-control signals: time from hold to decision, approval rate per approver, and
approvals faster than the minimum review time (rubber-stamping)."""

from __future__ import annotations

import bisect
import statistics
from typing import Any

from sqlalchemy import Engine, and_, select

from redline.approvals.models import ApprovalState, ApprovalStats, ApproverStats, HistogramBin
from redline.tables import approvals_table, votes_table

# Upper bounds of the time-to-decision bins, in seconds: 10 s up to an hour.
BIN_BOUNDS: tuple[float, ...] = (10, 30, 60, 120, 300, 600, 900, 1800, 3600)


def histogram(waits: list[float]) -> list[HistogramBin]:
    counts = [0] * (len(BIN_BOUNDS) + 1)
    for w in waits:
        counts[bisect.bisect_left(BIN_BOUNDS, w)] += 1
    bounds: list[float | None] = [*BIN_BOUNDS, None]
    return [HistogramBin(le=b, count=c) for b, c in zip(bounds, counts, strict=True)]


def _approver(name: str, votes: list[Any], minimum: float) -> ApproverStats:
    """One approver's record: how often they approve, how long they look first."""
    ok = sum(v.vote == "approve" for v in votes)
    reviews = [v.at - v.created_at for v in votes]
    return ApproverStats(
        approver=name,
        approved=ok,
        rejected=len(votes) - ok,
        approval_rate=round(ok / len(votes), 4),
        median_review_s=round(statistics.median(reviews), 3) if reviews else None,
        fast_approvals=sum(
            1 for v in votes if v.vote == "approve" and v.at - v.created_at < minimum
        ),
    )


def approval_stats(engine: Engine, scope: str | None, min_review_s: float) -> ApprovalStats:
    """Statistics over one deployment's approvals (`scope`), or all when None."""
    with engine.connect() as conn:
        q = select(approvals_table)
        vq = select(votes_table, approvals_table.c.created_at, approvals_table.c.deployment).join(
            approvals_table, approvals_table.c.id == votes_table.c.approval_id
        )
        if scope:
            q = q.where(approvals_table.c.deployment == scope)
            vq = vq.where(and_(approvals_table.c.deployment == scope))
        rows = conn.execute(q).all()
        votes = conn.execute(vq).all()
    by_state: dict[str, int] = {}
    for r in rows:
        by_state[r.state] = by_state.get(r.state, 0) + 1
    waits = sorted(
        r.decided_at - r.created_at
        for r in rows
        if r.decided_at is not None and r.state in (ApprovalState.APPROVED, ApprovalState.REJECTED)
    )
    minimum = min_review_s
    per: dict[str, list[Any]] = {}
    flags = []
    for v in votes:
        per.setdefault(v.approver, []).append(v)
        review = v.at - v.created_at
        if v.vote == "approve" and review < minimum:
            flags.append(
                {
                    "approval_id": v.approval_id,
                    "approver": v.approver,
                    "review_s": round(review, 3),
                }
            )
    approvers = [_approver(name, vs, minimum) for name, vs in sorted(per.items())]
    return ApprovalStats(
        deployment=scope,
        total=len(rows),
        by_state=by_state,
        median_time_to_decision_s=round(statistics.median(waits), 3) if waits else None,
        p90_time_to_decision_s=round(waits[int(0.9 * (len(waits) - 1))], 3) if waits else None,
        min_review_s=minimum,
        approvers=approvers,
        rubber_stamp_flags=flags,
        time_to_decision_histogram=histogram(waits),
    )
