"""Deciding inside the gateway: the decider of (deployment, upstream), the caller's
context, the approvals service, and the answers for deny, hold and check failure."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi.responses import JSONResponse, Response

from redline.approvals.api import APPROVAL_HEADER, ApprovalGate, Grant
from redline.auth.principal import Principal
from redline.clock import utcnow
from redline.decider import Decider
from redline.decision import Decision
from redline.errors import ConflictError
from redline.gateway.errors import error_response
from redline.gateway.threads import in_thread
from redline.gateway.timing import server_timing
from redline.ledger.entry import LedgerEntry
from redline.ledger.store import Sealed
from redline.subject import Context, DecideRequest, Subject

log = logging.getLogger("redline.gateway.chat")


@dataclass
class Check:
    decider: Decider
    context: Context
    principal: Principal
    approvals: ApprovalGate | None
    granted: frozenset[str] = frozenset()  # roles that approved the request (if resumed)
    stages: list[tuple[str, float]] = field(default_factory=list)  # (name, ms), Server-Timing
    unsynced: bool = False  # a decision of this exchange is committed but not yet on disk

    async def decide(
        self,
        request: DecideRequest,
        roles: frozenset[str] = frozenset(),
        *,
        forward: bool = False,
        bound: dict[str, Any] | None = None,
        answer: bool = False,
    ) -> Decision:
        """`forward`: an allow is forwarded, not answered, so its entry need not wait for the
        disk; `settle` makes sure it is there before this exchange answers anything.
        `bound`: the rest of the forwarded request, bound into the subject hash. `answer`:
        the text is the model's answer (read with the answer thresholds)."""
        decision = await in_thread(
            self.decider.decide, request, roles, defer_sync=forward, bound=bound, answer=answer
        )
        self._recorded(decision)
        self._note("answer" if answer else "request", decision)
        return decision

    async def decide_many(
        self,
        requests: Sequence[DecideRequest],
        roles: Sequence[frozenset[str]] | None = None,
        answers: Sequence[bool] | None = None,
    ) -> list[Decision]:
        """The model's output in one batch; `answers` flags its text answers (tool calls are
        actions, read as requests)."""
        if not requests:
            return []
        decisions = await in_thread(self.decider.decide_batch, requests, roles, answers=answers)
        self._recorded(decisions[0])
        self._note("answer", decisions[0])
        return decisions

    def _recorded(self, decision: Decision) -> None:
        # A durable append syncs every entry before it; one left unsynced is owed a sync.
        if decision.ledger_index is not None:
            self.unsynced = not decision.on_disk

    async def settle(self, response: Response) -> Response:
        """`response`, once every ledger entry of this exchange is on disk; a fail-closed
        error instead if the ledger cannot sync."""
        if self.unsynced:
            try:
                await in_thread(self.decider.store.sync)
            except Exception as exc:
                log.error("ledger sync failed: %s", type(exc).__name__)
                return error_response(
                    502,
                    "policy_check_failed",
                    "Redline could not make its ledger entry for this request durable and "
                    "fails closed: nothing is returned",
                )
            self.unsynced = False
        return response

    async def record_upstream_failure(
        self, refers_to: int | None, upstream: str, status: int, code: str
    ) -> None:
        """The outcome of a forwarded request whose upstream failed: an `upstream.failed`
        entry referring to the request's allow, so the ledger does not show a plain allow
        for something that was never answered. Durable, so the allow is on disk too."""
        entry = LedgerEntry(
            kind="upstream.failed",
            time=utcnow(),
            deployment=self.context.deployment,
            principal=self.principal.id,
            refers_to=refers_to,
            detail={"upstream": upstream, "status": status, "code": code},
        )
        try:
            await in_thread(self.decider.store.append_many, [Sealed(entry)])
        except Exception as exc:  # the error is answered anyway; settle() still syncs
            log.error("could not record an upstream failure: %s", type(exc).__name__)
            return
        self.unsynced = False

    def _note(self, what: str, decision: Decision) -> None:
        self.stages += [(f"{stage}-{what}", ms) for stage, ms in decision.timings.items()]

    def server_timing(self) -> dict[str, str]:
        """The `Server-Timing` header of this exchange's stages so far."""
        return server_timing(self.stages)

    async def open_hold(
        self, decision: Decision, subject: Subject, bound: dict[str, Any] | None = None
    ) -> str | None:
        if self.approvals is None:
            return None
        approval_id = await in_thread(
            self.approvals.open_for_hold, decision, subject, self.principal, bound
        )
        decision.approval_id = approval_id
        return approval_id

    async def grant(
        self, approval_id: str, subject: Subject, bound: dict[str, Any] | None = None
    ) -> Grant:
        if self.approvals is None:
            raise ConflictError("this server has no approval service; nothing can be resumed")
        subject_hash = self.decider.subject_hash(subject, bound)
        return await in_thread(self.approvals.grant_for, approval_id, subject_hash, self.principal)

    async def issue(self, grant: Grant, action: Subject) -> str:
        """The action token of a resumed request that was decided allow."""
        assert self.approvals is not None  # a grant came from it
        return await in_thread(self.approvals.issue_token, grant, action, self.principal)


def clauses(decision: Decision) -> str:
    """The deciding clauses in words: 'provider-redlines PR-2.1-… (reason)'."""
    rules = [d for d in decision.decided_by if d.effect == decision.decision] or decision.decided_by
    return "; ".join(f"{d.policy} {d.rule}: {d.reason}" for d in rules) or decision.reason


def summary(decision: Decision) -> dict[str, Any]:
    """What a client sees of a decision (no evidence text: it may quote content)."""
    return decision.model_dump(
        mode="json",
        include={
            "decision",
            "categories",
            "decided_by",
            "release",
            "reason",
            "policies",
            "classifier",
            "subject_hash",
            "ledger_index",
            "approval_id",
            "failure",
            "ignored_attestations",
        },
    )


def check_failed(decision: Decision) -> JSONResponse:
    return error_response(
        502,
        "policy_check_failed",
        f"Redline could not check this {decision.failure or 'content'} and "
        f"fails closed: {decision.reason}",
        {"decision": summary(decision)},
    )


def denied(decision: Decision) -> JSONResponse:
    return error_response(
        403, "policy_denied", f"Denied by policy: {clauses(decision)}", summary(decision)
    )


def held(decision: Decision, approval_id: str | None) -> JSONResponse:
    resume = (
        f"Once approved, repeat the identical request with the header "
        f"'{APPROVAL_HEADER}: {approval_id}'."
        if approval_id
        else "This server has no approval service, so the request cannot be approved here."
    )
    details = {
        "approval_id": approval_id,
        "decision": summary(decision),
        "release": decision.release.how if decision.release else None,
        "resume": {"header": APPROVAL_HEADER, "value": approval_id, "how": resume},
    }
    message = f"Held for human approval: {clauses(decision)}. {resume}"
    headers = {APPROVAL_HEADER: approval_id} if approval_id else None
    return error_response(409, "approval_required", message, details, headers)
