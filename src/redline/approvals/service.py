"""The approval workflow, stored with SQLAlchemy Core on redline.db.metadata.

Every state change is one conditional UPDATE (`... WHERE state = 'pending'`) inside a
transaction, so concurrent deciders cannot both win; every transition is then appended to
the ledger as `approval.<event>` referring to the held decision. An approval whose
`approval.approved` event is not on the ledger grants nothing (fail closed).
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import (
    Connection,
    Engine,
    Row,
    insert,
    select,
    update,
)

from redline.approvals.api import Grant
from redline.approvals.models import (
    ApprovalDetail,
    ApprovalStats,
    ApprovalSummary,
    RedeemResult,
    Vote,
)
from redline.approvals.stats import approval_stats
from redline.approvals.tables import approvals_table, votes_table
from redline.approvals.token import (
    check_not_expired,
    public_pem,
    sign_action_token,
    signed_payload,
    verify_action_token,
)
from redline.auth.principal import Principal
from redline.db import make_engine, migrate
from redline.decision import Decision
from redline.errors import (
    ConflictError,
    ForbiddenError,
    NotFoundError,
    StoreError,
    VerificationError,
)
from redline.ledger.entry import DecidedByRef, LedgerEntry
from redline.ledger.store import DecisionStore, Sealed
from redline.settings import Settings
from redline.subject import Subject

log = logging.getLogger("redline.approvals")

_A = approvals_table
_V = votes_table
DECIDER_ROLES = ("approver", "commander")


def _utc(t: float) -> str:
    import datetime as dt

    return (
        dt.datetime.fromtimestamp(t, dt.UTC)
        .isoformat(timespec="microseconds")
        .replace("+00:00", "Z")
    )


@dataclass
class _Outcome:
    event: str | None = None  # ledger event to append after commit
    error: Exception | None = None
    detail: dict[str, Any] | None = None


class ApprovalService:
    """Implements redline.approvals.api.Approvals, plus the approver-facing operations."""

    def __init__(
        self,
        settings: Settings,
        store: DecisionStore,
        signing_key: Ed25519PrivateKey,
        engine: Engine | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.signing_key = signing_key
        self.public_key = signing_key.public_key()
        self.engine = engine or make_engine(settings.db)
        migrate(self.engine)

    def public_key_pem(self) -> str:
        return public_pem(self.public_key).decode("ascii")

    # -- ledger ---------------------------------------------------------------------
    def _ledger(
        self,
        event: str,
        row: Row[Any],
        actor: str,
        now: float,
        detail: dict[str, Any] | None = None,
    ) -> int:
        entry = LedgerEntry(
            kind=f"approval.{event}",
            time=_utc(now),
            deployment=row.deployment,
            principal=actor,
            subject_hash=row.subject_hash,
            categories={k: round(v, 6) for k, v in json.loads(row.categories).items() if v > 0},
            decided_by=[
                DecidedByRef(
                    policy=d["policy"],
                    rule=d["rule"],
                    effect=d["effect"],
                    category=d.get("category"),
                )
                for d in json.loads(row.decided_by)
            ]
            if event == "opened"
            else [],
            refers_to=row.decision_index,
            detail={"approval_id": row.id, **(detail or {})},
        )
        try:
            return self.store.append_many([Sealed(entry)])[0]
        except Exception as exc:
            log.error("ledger write failed for approval.%s: %s", event, type(exc).__name__)
            raise StoreError("the approval event could not be recorded on the ledger") from exc

    def _row(self, conn: Connection, approval_id: str) -> Row[Any] | None:
        return conn.execute(select(_A).where(_A.c.id == approval_id)).first()

    # -- the Approvals protocol -----------------------------------------------------
    def open_for_hold(self, decision: Decision, subject: Subject, requester: Principal) -> str:
        release = decision.release
        roles = sorted(set(release.roles)) if release and release.roles else ["approver"]
        config = self.settings.deployments.get(requester.deployment)
        two = set(config.two_person_rules) if config else set()
        rules = {d.rule for d in decision.decided_by} | {
            f"{d.policy}:{d.rule}" for d in decision.decided_by
        }
        needed = 2 if rules & two else 1
        ttl = (config.approval_ttl_s if config else None) or self.settings.approval_ttl_s
        now = time.time()
        approval_id = "ap_" + secrets.token_hex(12)
        values = dict(
            id=approval_id,
            deployment=requester.deployment,
            requester=requester.id,
            subject_hash=subject.content_hash(),
            kind=subject.kind,
            content=json.dumps(subject.content_json(), ensure_ascii=False),
            categories=json.dumps({k: v for k, v in decision.categories.items() if v > 0}),
            decided_by=json.dumps([d.model_dump(mode="json") for d in decision.decided_by]),
            evidence=json.dumps([e.model_dump(mode="json") for e in decision.evidence]),
            release=json.dumps(release.model_dump(mode="json") if release else None),
            reason=decision.reason,
            roles_required=",".join(roles),
            approvers_needed=needed,
            decision_index=decision.ledger_index,
            state="pending",
            created_at=now,
            expires_at=now + ttl,
            version=0,
        )
        with self.engine.begin() as conn:
            conn.execute(insert(_A).values(**values))
            row = self._row(conn, approval_id)
        assert row is not None
        try:
            self._ledger(
                "opened",
                row,
                requester.id,
                now,
                {"roles_required": roles, "approvers_needed": needed, "expires": _utc(now + ttl)},
            )
        except StoreError:
            with self.engine.begin() as conn:  # no approval without its ledger record
                conn.execute(_A.delete().where(_A.c.id == approval_id))
            raise
        return approval_id

    def grant_for(self, approval_id: str, subject: Subject, requester: Principal) -> Grant:
        now = time.time()
        subject_hash = subject.content_hash()
        with self.engine.begin() as conn:
            done = conn.execute(
                update(_A)
                .where(
                    _A.c.id == approval_id,
                    _A.c.state == "approved",
                    _A.c.resumed_at.is_(None),
                    _A.c.redeemed_at.is_(None),
                    _A.c.requester == requester.id,
                    _A.c.deployment == requester.deployment,
                    _A.c.subject_hash == subject_hash,
                    _A.c.event_index.is_not(None),
                    _A.c.not_after >= int(now),
                )
                .values(resumed_at=now)
            ).rowcount
            row = self._row(conn, approval_id)
            votes = conn.execute(
                select(_V).where(_V.c.approval_id == approval_id, _V.c.vote == "approve")
            ).all()
        if row is None or row.deployment != requester.deployment:
            raise NotFoundError(f"no approval {approval_id!r}")
        if not done:
            self._expire_if_due(row, now)
            if row.requester != requester.id:
                raise ForbiddenError("this approval was requested by another principal")
            if row.subject_hash != subject_hash:
                raise ForbiddenError(
                    "this approval is for a different request (the content differs)"
                )
            if row.state == "pending":
                state = "expired" if row.expires_at <= now else "pending"
                raise ConflictError(f"approval {approval_id} is {state}: not approved")
            if row.state != "approved":
                raise ConflictError(f"approval {approval_id} was {row.state}")
            if row.event_index is None:
                # Approved while the ledger was failing: record it now (StoreError while it
                # still fails, and nothing is granted), then grant as usual.
                self._record_late(row, votes)
                return self.grant_for(approval_id, subject, requester)
            if row.resumed_at is not None or row.redeemed_at is not None:
                raise ConflictError(f"approval {approval_id} was already used")
            raise ConflictError(f"the action token of approval {approval_id} has expired")
        self._ledger("resumed", row, requester.id, now)
        required = set(row.roles_required.split(","))
        roles = frozenset(r for v in votes for r in v.roles.split(",") if r in required)
        return Grant(approval_id=approval_id, roles=roles, token=row.token)

    # -- deciding -------------------------------------------------------------------
    def _may_see(self, principal: Principal, row: Row[Any]) -> None:
        if not principal.is_admin and principal.deployment != row.deployment:
            raise NotFoundError(f"no approval {row.id!r}")  # another deployment's: not revealed
        required = set(row.roles_required.split(","))
        if principal.is_admin or principal.has_role("auditor") or principal.id == row.requester:
            return
        if not principal.roles & required:
            raise ForbiddenError(
                f"deciding this approval needs the role {' and '.join(sorted(required))}"
            )

    def _record_late(self, row: Row[Any], votes: Sequence[Row[Any]]) -> None:
        """Record the `approved` event of an approval that committed while the ledger was
        failing, at the approval's own time and by its last approver, as it would have been."""
        approvers = sorted(v.approver for v in votes)
        last = max(votes, key=lambda v: v.at).approver
        detail = {"approvers": approvers, "not_after": row.not_after, "recorded_late": True}
        index = self._ledger("approved", row, last, row.decided_at, detail)
        with self.engine.begin() as conn:
            conn.execute(
                update(_A)
                .where(_A.c.id == row.id, _A.c.event_index.is_(None))
                .values(event_index=index)
            )

    def _expire_if_due(self, row: Row[Any], now: float) -> bool:
        if row.state != "pending" or row.expires_at > now:
            return False
        with self.engine.begin() as conn:
            done = conn.execute(
                update(_A)
                .where(_A.c.id == row.id, _A.c.state == "pending")
                .values(state="expired", decided_at=now)
            ).rowcount
        if done:
            self._ledger("expired", row, "redline", now)
        return True

    def expire_due(self) -> int:
        now = time.time()
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(_A).where(_A.c.state == "pending", _A.c.expires_at <= now)
            ).all()
        return sum(self._expire_if_due(r, now) for r in rows)

    def approve(self, approval_id: str, principal: Principal, comment: str = "") -> ApprovalDetail:
        return self._decide(approval_id, principal, "approve", comment)

    def reject(self, approval_id: str, principal: Principal, reason: str) -> ApprovalDetail:
        return self._decide(approval_id, principal, "reject", reason)

    def _decide(
        self, approval_id: str, principal: Principal, vote: str, text: str
    ) -> ApprovalDetail:
        now = time.time()
        out = _Outcome()
        with self.engine.begin() as conn:
            # Lock the row first (PostgreSQL row lock, SQLite write lock): deciders serialise.
            locked = conn.execute(
                update(_A)
                .where(_A.c.id == approval_id, _A.c.state == "pending")
                .values(version=_A.c.version + 1)
            ).rowcount
            row = self._row(conn, approval_id)
            if row is None:
                raise NotFoundError(f"no approval {approval_id!r}")
            self._may_see(principal, row)
            required = set(row.roles_required.split(","))
            if not principal.roles & required:
                raise ForbiddenError(
                    f"deciding this approval needs the role {' and '.join(sorted(required))}"
                )
            if principal.id == row.requester:
                raise ForbiddenError("nobody decides on their own request")
            if not locked:
                raise ConflictError(f"approval {approval_id} is already {row.state}")
            if row.expires_at <= now:
                conn.execute(
                    update(_A).where(_A.c.id == approval_id).values(state="expired", decided_at=now)
                )
                out = _Outcome("expired", ConflictError(f"approval {approval_id} has expired"))
            else:
                out = self._vote(conn, row, principal, vote, text, now)
        if out.event:
            row = self._get_row(approval_id)
            actor = "redline" if out.event == "expired" else principal.id
            index = self._ledger(out.event, row, actor, now, out.detail)
            if out.event == "approved":
                with self.engine.begin() as conn:
                    conn.execute(update(_A).where(_A.c.id == approval_id).values(event_index=index))
        if out.error:
            raise out.error
        return self.detail(approval_id, principal)

    def _vote(
        self,
        conn: Connection,
        row: Row[Any],
        principal: Principal,
        vote: str,
        text: str,
        now: float,
    ) -> _Outcome:
        required = set(row.roles_required.split(","))
        if conn.execute(
            select(_V.c.approver).where(_V.c.approval_id == row.id, _V.c.approver == principal.id)
        ).first():
            raise ConflictError(
                "you have already decided on this approval; "
                "the two-person rule needs a different approver"
            )
        roles = ",".join(sorted(principal.roles & required))
        conn.execute(
            insert(_V).values(
                approval_id=row.id,
                approver=principal.id,
                roles=roles,
                vote=vote,
                at=now,
                comment=text[:2000],
            )
        )
        if vote == "reject":
            conn.execute(
                update(_A)
                .where(_A.c.id == row.id)
                .values(state="rejected", decided_at=now, reject_reason=text[:2000])
            )
            return _Outcome("rejected", detail={"approver": principal.id, "reason": text[:1000]})
        votes = conn.execute(
            select(_V).where(_V.c.approval_id == row.id, _V.c.vote == "approve")
        ).all()
        covered = {r for v in votes for r in v.roles.split(",") if r}
        if len(votes) < row.approvers_needed or not required <= covered:
            return _Outcome(
                "vote",
                detail={
                    "approver": principal.id,
                    "approvals": len(votes),
                    "needed": row.approvers_needed,
                },
            )
        approvers = sorted(v.approver for v in votes)
        not_after = int(now) + self.settings.token_ttl_s
        token = sign_action_token(
            {
                "approval_id": row.id,
                "action_hash": row.subject_hash,
                "requester": row.requester,
                "deployment": row.deployment,
                "approvers": approvers,
                "not_after": not_after,
            },
            self.signing_key,
        )
        conn.execute(
            update(_A)
            .where(_A.c.id == row.id)
            .values(state="approved", decided_at=now, token=token, not_after=not_after)
        )
        return _Outcome("approved", detail={"approvers": approvers, "not_after": not_after})

    def redeem(
        self,
        approval_id: str,
        token: str,
        principal: Principal,
        action: dict[str, Any] | None = None,
    ) -> RedeemResult:
        """Spend an action token once (the effector's check before it acts)."""
        if action is not None:
            payload = verify_action_token(token, action, self.public_key)
        else:
            payload = signed_payload(token, self.public_key)
            check_not_expired(payload)

        if payload["approval_id"] != approval_id:
            raise VerificationError("action token is for another approval")
        if not principal.is_admin and payload["deployment"] != principal.deployment:
            raise NotFoundError(f"no approval {approval_id!r}")
        now = time.time()
        with self.engine.begin() as conn:
            done = conn.execute(
                update(_A)
                .where(
                    _A.c.id == approval_id,
                    _A.c.state == "approved",
                    _A.c.redeemed_at.is_(None),
                    _A.c.token == token,
                )
                .values(redeemed_at=now)
            ).rowcount
            row = self._row(conn, approval_id)
        if row is None:
            raise NotFoundError(f"no approval {approval_id!r}")
        if not done:
            raise ConflictError(f"the action token of approval {approval_id} was already used")
        self._ledger("redeemed", row, principal.id, now)
        return RedeemResult(redeemed=True, approval_id=approval_id, payload=payload)

    # -- reading --------------------------------------------------------------------
    def _get_row(self, approval_id: str) -> Row[Any]:
        with self.engine.connect() as conn:
            row = self._row(conn, approval_id)
        if row is None:
            raise NotFoundError(f"no approval {approval_id!r}")
        return row

    def _summary(self, row: Row[Any], n_approvals: int) -> dict[str, Any]:
        return dict(
            id=row.id,
            deployment=row.deployment,
            requester=row.requester,
            subject_hash=row.subject_hash,
            kind=row.kind,
            state=row.state,
            roles_required=row.roles_required.split(","),
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

    def detail(self, approval_id: str, principal: Principal) -> ApprovalDetail:
        row = self._get_row(approval_id)
        self._may_see(principal, row)
        if self._expire_if_due(row, time.time()):
            row = self._get_row(approval_id)
        with self.engine.connect() as conn:
            votes = conn.execute(
                select(_V).where(_V.c.approval_id == approval_id).order_by(_V.c.at)
            ).all()
        n = sum(v.vote == "approve" for v in votes)
        mine = principal.id == row.requester and row.event_index is not None
        return ApprovalDetail(
            **self._summary(row, n),
            reason=row.reason,
            evidence=json.loads(row.evidence),
            release=json.loads(row.release),
            content=json.loads(row.content),
            votes=[
                Vote(
                    approver=v.approver,
                    roles=v.roles.split(","),
                    vote=v.vote,
                    at=v.at,
                    comment=v.comment,
                )
                for v in votes
            ],
            reject_reason=row.reject_reason,
            action_token=row.token if mine else None,
        )

    def list(
        self, principal: Principal, state: str | None = "pending", deployment: str | None = None
    ) -> list[ApprovalSummary]:
        self.expire_due()
        q = select(_A).order_by(_A.c.created_at)
        if not principal.is_admin:
            q = q.where(_A.c.deployment == principal.deployment)
        elif deployment:
            q = q.where(_A.c.deployment == deployment)
        if state:
            q = q.where(_A.c.state == state)
        with self.engine.connect() as conn:
            rows = conn.execute(q.limit(1000)).all()
            counts: dict[str, int] = {}
            for v in conn.execute(
                select(_V.c.approval_id).where(
                    _V.c.vote == "approve", _V.c.approval_id.in_([r.id for r in rows])
                )
            ):
                counts[v.approval_id] = counts.get(v.approval_id, 0) + 1
        out = []
        for row in rows:
            try:
                self._may_see(principal, row)
            except (ForbiddenError, NotFoundError):
                continue
            out.append(ApprovalSummary(**self._summary(row, counts.get(row.id, 0))))
        return out

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
