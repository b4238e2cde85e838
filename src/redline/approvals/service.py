"""The approval workflow's write side, stored with SQLAlchemy Core on redline.tables.

Every state change is one conditional UPDATE (`... WHERE state = 'pending'`) inside a
transaction, so concurrent deciders cannot both win; every transition is then appended to
the ledger as `approval.<event>` referring to the held decision. An approval whose
`approval.approved` event is not on the ledger grants nothing (fail closed). The read
side is in queries.py.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import time
from collections.abc import Mapping, Sequence
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection, Engine, Row, insert, select, update
from sqlalchemy.exc import OperationalError

from redline.approvals.api import Grant
from redline.approvals.events import approval_entry
from redline.approvals.hold import hold_terms, hold_values, sealed
from redline.approvals.models import (
    ApprovalDetail,
    ApprovalState,
    ApprovalStats,
    ApprovalSummary,
    RedeemResult,
)
from redline.approvals.queries import (
    approval_detail,
    approval_summaries,
    check_visible,
    decider_refusal,
    fetch_row,
    load_row,
    required_roles,
)
from redline.approvals.spend import record_issued, record_spent
from redline.approvals.stats import approval_stats
from redline.approvals.token import (
    action_hash,
    public_pem,
    sign_action_token,
    verify_action_token,
)
from redline.approvals.voting import Outcome, approve_votes, cast_vote
from redline.auth.principal import Principal, parse_roles
from redline.db import make_engine, migrate
from redline.decision import Decision
from redline.errors import (
    ConflictError,
    ForbiddenError,
    NotFoundError,
    StoreError,
    VerificationError,
)
from redline.ledger.store import DecisionStore, Sealed
from redline.settings import Settings
from redline.subject import Subject
from redline.tables import approvals_table

log = logging.getLogger("redline.approvals")

DECIDER_ROLES = ("approver", "commander")


class ApprovalService:
    """Implements redline.approvals.api.ApprovalGate, plus the approver-facing operations."""

    def __init__(
        self,
        settings: Settings,
        store: DecisionStore,
        signing_key: Ed25519PrivateKey,
        engine: Engine | None = None,
        *,
        content_key: bytes | None = None,
    ) -> None:
        self.settings = settings
        self.content_key = content_key  # seals approvals.content (AES-GCM), when given
        self.store = store
        self.signing_key = signing_key
        self.public_key = signing_key.public_key()
        self.engine = engine or make_engine(settings.db)
        migrate(self.engine)

    def public_key_pem(self) -> str:
        return public_pem(self.public_key).decode("ascii")

    def _ledger(
        self,
        event: str,
        row: Row[Any],
        actor: str,
        now: float,
        detail: dict[str, Any] | None = None,
    ) -> int:
        entry = approval_entry(event, row, actor, now, detail)
        try:
            return self.store.append_many([Sealed(entry)])[0]
        except Exception as exc:
            log.error("ledger write failed for approval.%s: %s", event, type(exc).__name__)
            raise StoreError(
                "the approval event could not be recorded on the ledger; nothing was granted: retry"
            ) from exc

    # -- the ApprovalGate protocol ------------------------------------------------------
    def open_for_hold(
        self,
        decision: Decision,
        subject: Subject,
        requester: Principal,
        bound: Mapping[str, Any] | None = None,
    ) -> str:
        terms = hold_terms(decision, requester, self.settings)
        now = time.time()
        approval_id = "ap_" + secrets.token_hex(12)
        values = hold_values(approval_id, decision, subject, requester, terms, now)
        with self.engine.begin() as conn:
            conn.execute(insert(approvals_table).values(**sealed(values, bound, self.content_key)))
            row = fetch_row(conn, approval_id)
        assert row is not None
        try:
            self._ledger("opened", row, requester.id, now, terms.detail(now))
        except StoreError:
            with self.engine.begin() as conn:  # no approval without its ledger record
                conn.execute(approvals_table.delete().where(approvals_table.c.id == approval_id))
            raise
        return approval_id

    def grant_for(self, approval_id: str, subject_hash: str, requester: Principal) -> Grant:
        now = time.time()
        table = approvals_table
        with self.engine.begin() as conn:
            done = conn.execute(
                update(table)
                .where(
                    table.c.id == approval_id,
                    table.c.state == ApprovalState.APPROVED,
                    table.c.resumed_at.is_(None),
                    table.c.redeemed_at.is_(None),
                    table.c.requester == requester.id,
                    table.c.deployment == requester.deployment,
                    table.c.subject_hash == subject_hash,
                    table.c.event_index.is_not(None),
                    table.c.not_after >= int(now),
                )
                .values(resumed_at=now)
            ).rowcount
            row = fetch_row(conn, approval_id)
            votes = approve_votes(conn, approval_id)
        if row is None or row.deployment != requester.deployment:
            raise NotFoundError(f"no approval {approval_id!r}")
        if not done:
            self._refuse_grant(row, votes, subject_hash, requester, now)
            # Approved while the ledger was failing: now recorded, so grant as usual.
            return self.grant_for(approval_id, subject_hash, requester)
        self._ledger("resumed", row, requester.id, now)
        required = required_roles(row)
        roles = frozenset(r for v in votes for r in parse_roles(v.roles) if r in required)
        return Grant(approval_id=approval_id, roles=roles)

    def issue_token(self, grant: Grant, action: Subject, requester: Principal) -> str:
        """The action token of a resumed approval whose repeated request was allowed.

        Only the resume that re-decided issues it, once: the approval must be resumed by
        this requester and hold no token yet. It binds the action's SHA-256 (what the
        effector recomputes), the requester, the deployment, the approvers and `not_after`."""
        row = load_row(self.engine, grant.approval_id)
        with self.engine.connect() as conn:
            approvers = sorted(v.approver for v in approve_votes(conn, row.id))
        payload = {
            "approval_id": row.id,
            "action_hash": action_hash(action),
            "requester": row.requester,
            "deployment": row.deployment,
            "approvers": approvers,
            "not_after": row.not_after,
        }
        token = sign_action_token(payload, self.signing_key)
        record_issued(self.engine, row.id, requester, token)
        return token

    def _refuse_grant(
        self,
        row: Row[Any],
        votes: Sequence[Row[Any]],
        subject_hash: str,
        requester: Principal,
        now: float,
    ) -> None:
        """Raise why an approval grants nothing to this resume; return only after recording
        the `approved` event of an approval that committed while the ledger was failing
        (StoreError while it still fails, and nothing is granted)."""
        self._expire_if_due(row, now)
        if row.requester != requester.id:
            raise ForbiddenError("this approval was requested by another principal")
        if not hmac.compare_digest(row.subject_hash, subject_hash):
            raise ForbiddenError("this approval is for a different request (the content differs)")
        if row.state == ApprovalState.PENDING:
            state = "expired" if row.expires_at <= now else "pending"
            raise ConflictError(f"approval {row.id} is {state}: not approved")
        if row.state != ApprovalState.APPROVED:
            raise ConflictError(f"approval {row.id} was {row.state}")
        if row.event_index is None:
            self._record_late(row, votes)
            return
        if row.resumed_at is not None or row.redeemed_at is not None:
            raise ConflictError(f"approval {row.id} was already used")
        raise ConflictError(f"the action token of approval {row.id} has expired")

    # -- deciding -------------------------------------------------------------------
    def _record_late(self, row: Row[Any], votes: Sequence[Row[Any]]) -> None:
        """Record the `approved` event of an approval that committed while the ledger was
        failing, at the approval's own time and by its last approver, as it would have been."""
        approvers = sorted(v.approver for v in votes)
        last = max(votes, key=lambda v: v.at).approver
        detail = {"approvers": approvers, "not_after": row.not_after, "recorded_late": True}
        index = self._ledger("approved", row, last, row.decided_at, detail)
        with self.engine.begin() as conn:
            conn.execute(
                update(approvals_table)
                .where(approvals_table.c.id == row.id, approvals_table.c.event_index.is_(None))
                .values(event_index=index)
            )

    def _expire_if_due(self, row: Row[Any], now: float) -> bool:
        if row.state != ApprovalState.PENDING or row.expires_at > now:
            return False
        with self.engine.begin() as conn:
            done = conn.execute(
                update(approvals_table)
                .where(
                    approvals_table.c.id == row.id,
                    approvals_table.c.state == ApprovalState.PENDING,
                )
                .values(state=ApprovalState.EXPIRED, decided_at=now)
            ).rowcount
        if done:
            self._ledger("expired", row, "redline", now)
        return True

    def expire_due(self) -> int:
        now = time.time()
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(approvals_table).where(
                    approvals_table.c.state == ApprovalState.PENDING,
                    approvals_table.c.expires_at <= now,
                )
            ).all()
        return sum(self._expire_if_due(r, now) for r in rows)

    def approve(self, approval_id: str, principal: Principal, comment: str = "") -> ApprovalDetail:
        return self._decide(approval_id, principal, "approve", comment)

    def reject(self, approval_id: str, principal: Principal, reason: str) -> ApprovalDetail:
        return self._decide(approval_id, principal, "reject", reason)

    def _decide(
        self, approval_id: str, principal: Principal, vote: str, text: str
    ) -> ApprovalDetail:
        try:
            return self._decide_once(approval_id, principal, vote, text)
        except OperationalError as exc:
            # The transaction rolled back: nothing changed, nothing was granted.
            log.error("approval state write failed: %s", type(exc.orig).__name__)
            raise StoreError(
                "the approval could not be recorded (the database is locked or cannot "
                "write); nothing was granted: retry"
            ) from exc

    def _decide_once(
        self, approval_id: str, principal: Principal, vote: str, text: str
    ) -> ApprovalDetail:
        now = time.time()
        out = Outcome()
        table = approvals_table
        with self.engine.begin() as conn:
            # Lock the row first (PostgreSQL row lock, SQLite write lock): deciders serialise.
            locked = conn.execute(
                update(table)
                .where(table.c.id == approval_id, table.c.state == ApprovalState.PENDING)
                .values(version=table.c.version + 1)
            ).rowcount
            row = fetch_row(conn, approval_id)
            if row is None:
                raise NotFoundError(f"no approval {approval_id!r}")
            check_visible(principal, row)
            required = required_roles(row)
            refusal = decider_refusal(principal, row.deployment, row.requester, required)
            if refusal is not None:
                raise refusal
            if not locked and vote == "approve" and self._unrecorded(conn, row, principal):
                out = Outcome("late")  # this approver's retry after a failed ledger write
            elif not locked:
                raise ConflictError(f"approval {approval_id} is already {row.state}")
            elif row.expires_at <= now:
                conn.execute(
                    update(table)
                    .where(table.c.id == approval_id)
                    .values(state=ApprovalState.EXPIRED, decided_at=now)
                )
                out = Outcome("expired", ConflictError(f"approval {approval_id} has expired"))
            else:
                ttl_s = self.settings.token_ttl_s
                out = cast_vote(conn, row, required, principal, vote, text, now, ttl_s)
        if out.event == "late":
            row = load_row(self.engine, approval_id)
            with self.engine.connect() as conn:
                self._record_late(row, approve_votes(conn, approval_id))
        elif out.event:
            self._record_outcome(approval_id, principal, out, now)
        if out.error:
            raise out.error
        return self.detail(approval_id, principal)

    @staticmethod
    def _unrecorded(conn: Connection, row: Row[Any], principal: Principal) -> bool:
        """Approved with this principal's vote, but its `approved` event not yet on the
        ledger (the write failed): deciding again records it, so the approve is retryable."""
        if row.state != ApprovalState.APPROVED or row.event_index is not None:
            return False
        return principal.id in {v.approver for v in approve_votes(conn, row.id)}

    def _record_outcome(
        self, approval_id: str, principal: Principal, out: Outcome, now: float
    ) -> None:
        """Append the decision's ledger event; an approval grants once its event is there."""
        assert out.event is not None
        row = load_row(self.engine, approval_id)
        actor = "redline" if out.event == "expired" else principal.id
        index = self._ledger(out.event, row, actor, now, out.detail)
        if out.event == "approved":
            with self.engine.begin() as conn:
                conn.execute(
                    update(approvals_table)
                    .where(approvals_table.c.id == approval_id)
                    .values(event_index=index)
                )

    def redeem(
        self,
        approval_id: str,
        token: str,
        principal: Principal,
        action: dict[str, Any],
    ) -> RedeemResult:
        """Spend an action token once (the effector's check before it acts).

        1. The token must be signed by this server, bind this very action (its hash is
           recomputed from `action`) and be unexpired.
        2. It must be for this approval and the caller's deployment.
        3. It must be the token the resume issued, not yet spent."""
        payload = verify_action_token(token, action, self.public_key)
        if payload["approval_id"] != approval_id:
            raise VerificationError(
                f"action token is for approval {payload['approval_id']!r}, not {approval_id!r}"
            )
        if payload["deployment"] != principal.deployment:
            raise NotFoundError(f"no approval {approval_id!r}")
        now = time.time()
        row = record_spent(self.engine, approval_id, token, now)
        self._ledger("redeemed", row, principal.id, now)
        return RedeemResult(redeemed=True, approval_id=approval_id, payload=payload)

    # -- reading (queries.py), after expiring what is due ------------------------------
    def detail(self, approval_id: str, principal: Principal) -> ApprovalDetail:
        row = load_row(self.engine, approval_id)
        check_visible(principal, row)
        if self._expire_if_due(row, time.time()):
            row = load_row(self.engine, approval_id)
        return approval_detail(self.engine, row, self.content_key)

    def summaries(
        self, principal: Principal, state: str | None = "pending", deployment: str | None = None
    ) -> list[ApprovalSummary]:
        """The approvals the caller may see, in `state` (all when None)."""
        self.expire_due()
        return approval_summaries(self.engine, principal, state, deployment)

    def stats(self, principal: Principal, deployment: str | None = None) -> ApprovalStats:
        """Human-control signals (see stats.approval_stats)."""
        if not (principal.is_admin or principal.roles & {"auditor", *DECIDER_ROLES}):
            raise ForbiddenError(
                "approval statistics need the role auditor, approver, commander or admin"
            )
        scope = deployment if principal.is_admin else principal.deployment
        self.expire_due()
        return approval_stats(self.engine, scope, self.settings.min_review_s)

    def close(self) -> None:
        self.engine.dispose()
