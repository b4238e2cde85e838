"""The approval a hold opens: who must approve, how many, until when, and its row."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from redline.approvals.models import ApprovalState
from redline.auth.principal import Principal, join_roles
from redline.clock import utcnow
from redline.decision import Decision
from redline.errors import StoreError
from redline.ledger.content import seal_text
from redline.settings import Settings
from redline.subject import Subject


@dataclass(frozen=True)
class HoldTerms:
    roles: list[str]  # every one of them must approve (sorted)
    needed: int  # approvers: 2 under a deployment's two-person rule
    ttl_s: float  # the approval expires this long after it opens

    def detail(self, now: float) -> dict[str, Any]:
        """The terms as the `approval.opened` ledger event records them."""
        expires = utcnow(now + self.ttl_s)
        return {"roles_required": self.roles, "approvers_needed": self.needed, "expires": expires}


def hold_terms(decision: Decision, requester: Principal, settings: Settings) -> HoldTerms:
    """The roles the hold's release names (an approver when it names none), two approvers
    where the deciding rule is under the deployment's two-person rule, and its time to live."""
    release = decision.release
    roles = sorted(set(release.roles)) if release and release.roles else ["approver"]
    config = settings.deployments.get(requester.deployment)
    two = set(config.two_person_rules) if config else set()
    rules = {d.rule for d in decision.decided_by} | {
        f"{d.policy}:{d.rule}" for d in decision.decided_by
    }
    ttl = (config.approval_ttl_s if config else None) or settings.approval_ttl_s
    return HoldTerms(roles=roles, needed=2 if rules & two else 1, ttl_s=ttl)


def bound_key(approval_id: str) -> str:
    """What an approval's sealed model and parameters are bound to: not its content's id,
    so the two ciphertexts cannot be swapped."""
    return f"{approval_id} bound"


def sealed(
    values: dict[str, Any], bound: Mapping[str, Any] | None, content_key: bytes | None
) -> dict[str, Any]:
    """The row with its content, and the model and parameters where given, sealed under
    the content key: a parameter can quote content too (a `stop` string, `metadata`)."""
    approval_id = values["id"]
    out = {**values, "content": seal_text(values["content"], content_key, approval_id)}
    if bound:
        text = json.dumps(dict(bound), ensure_ascii=False, sort_keys=True)
        out["bound"] = seal_text(text, content_key, bound_key(approval_id))
    return out


def hold_values(
    approval_id: str,
    decision: Decision,
    subject: Subject,
    requester: Principal,
    terms: HoldTerms,
    now: float,
) -> dict[str, Any]:
    """The new approval's row: the held decision's rationale and the subject, pending."""
    release = decision.release
    if not decision.subject_hash:
        raise StoreError("the held decision carries no subject hash; no approval is opened")
    return dict(
        id=approval_id,
        deployment=requester.deployment,
        requester=requester.id,
        # The decider's keyed hash of everything the held request would forward.
        subject_hash=decision.subject_hash,
        kind=subject.kind,
        content=json.dumps(subject.content_json(), ensure_ascii=False),
        categories=json.dumps({k: v for k, v in decision.categories.items() if v > 0}),
        decided_by=json.dumps([d.model_dump(mode="json") for d in decision.decided_by]),
        evidence=json.dumps([e.model_dump(mode="json") for e in decision.evidence]),
        release=json.dumps(release.model_dump(mode="json") if release else None),
        reason=decision.reason,
        roles_required=join_roles(terms.roles),
        approvers_needed=terms.needed,
        decision_index=decision.ledger_index,
        state=ApprovalState.PENDING,
        created_at=now,
        expires_at=now + terms.ttl_s,
        version=0,
    )
