"""The answer: what was decided, by which clause, on what evidence, and what would release it."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    Field,
    PrivateAttr,
    SerializerFunctionWrapHandler,
    model_serializer,
)

from redline.classify.types import Classification
from redline.policy.compose import Outcome
from redline.policy.engine import Verdict
from redline.policy.pack import Rule
from redline.taxonomy import Effect


class DecidedBy(BaseModel):
    policy: str
    rule: str
    effect: Literal["allow", "hold", "deny"]
    reason: str
    category: str | None = None
    # an aggregate rule's window ("24h"), scope ("principal") and the count that decided
    window: str | None = None
    scope: str | None = None
    count: int | None = None

    @model_serializer(mode="wrap")
    def _only_aggregate_fields_in_use(self, handler: SerializerFunctionWrapHandler) -> Any:
        """A rule that is not an aggregate rule keeps the shape SPEC.md gives decided_by."""
        data = handler(self)
        if isinstance(data, dict) and self.window is None:
            for key in ("window", "scope", "count"):
                data.pop(key, None)
        return data


class ReleaseCondition(BaseModel):
    policy: str
    category: str
    role: str | None = None
    attestations: list[str] = Field(default_factory=list)


class ReleaseInfo(BaseModel):
    """Everything listed is needed: an approval by each role and each attestation."""

    roles: list[str]
    attestations: list[str]
    conditions: list[ReleaseCondition]
    how: str


class EvidenceItem(BaseModel):
    category: str
    score: float
    source: str
    where: str = ""
    detail: str = ""


class Decision(BaseModel):
    id: str | int | None = None
    decision: Literal["allow", "hold", "deny"]
    categories: dict[str, float]
    decided_by: list[DecidedBy]
    release: ReleaseInfo | None = None
    reason: str
    evidence: list[EvidenceItem] = Field(default_factory=list)
    policies: dict[str, str] = Field(default_factory=dict)  # pack -> version
    classifier: str = ""
    subject_hash: str = ""
    ledger_index: int | None = None
    ignored_attestations: list[str] = Field(default_factory=list)
    approval_id: str | None = None
    action_token: str | None = None  # the signed action token, on a resumed approved request
    failure: str | None = None  # set when the decision is a fail-closed deny
    # Milliseconds per stage ("classify", "ledger"); for Server-Timing, never serialised.
    _timings: dict[str, float] = PrivateAttr(default_factory=dict)
    # False while the ledger entry is committed but not yet synced (Decider.decide(defer_sync)).
    _on_disk: bool = PrivateAttr(default=True)

    @property
    def timings(self) -> dict[str, float]:
        return self._timings

    @property
    def on_disk(self) -> bool:
        return self._on_disk


def _release_info(outcome: Outcome) -> ReleaseInfo | None:
    if outcome.effect is not Effect.HOLD:
        return None
    conditions = [
        ReleaseCondition(
            policy=v.pack,
            category=v.category,
            role=v.release.role if v.release else None,
            attestations=list(v.release.attestations) if v.release else [],
        )
        for v in outcome.deciding
    ]
    roles = sorted({c.role for c in conditions if c.role})
    atts = sorted({a for c in conditions for a in c.attestations})
    parts = [f"an approval by a principal with role {r!r}" for r in roles]
    parts += [f"the attestation {a!r} from a trusted principal" for a in atts]
    return ReleaseInfo(
        roles=roles,
        attestations=atts,
        conditions=conditions,
        how="Released by " + " and ".join(parts) + ".",
    )


def _evidence(classification: Classification, outcome: Outcome) -> list[EvidenceItem]:
    items = []
    for cat in dict.fromkeys(v.category for v in outcome.verdicts):
        cs = classification.scores.get(cat)
        if cs is None:
            continue
        items += [
            EvidenceItem(category=cat, score=round(cs.score, 4), source=ev.source,
                         where=ev.where, detail=ev.detail)
            for ev in cs.evidence
        ]  # fmt: skip
    return items


def summarize(outcome: Outcome) -> str:
    rules = ", ".join(f"{v.pack}:{r.id}" for v in outcome.deciding for r in v.rules)
    cats = ", ".join(dict.fromkeys(v.category for v in outcome.deciding))
    return f"{outcome.effect.value} ({cats}) by {rules}"


def _decided_by(outcome: Outcome, verdict: Verdict, rule: Rule) -> DecidedBy:
    """One deciding rule; an aggregate rule also names its window and the count (never the
    subjects)."""
    out = DecidedBy(
        policy=verdict.pack,
        rule=rule.id,
        effect=verdict.effect.value,
        reason=rule.reason,
        category=verdict.category,
    )
    if rule.window is None or outcome.aggregate is None:
        return out
    prefix = "deployment_" if rule.scope == "deployment" else ""
    count = int(outcome.aggregate[f"{prefix}distinct_subjects_{rule.window}"])
    whose = "this deployment" if rule.scope == "deployment" else "this principal"
    out.window, out.scope, out.count = rule.window, rule.scope, count
    out.reason = (
        f"{rule.reason} Window {rule.window}: {count} distinct subjects of {whose}, "
        "this request included."
    )
    return out


def from_outcome(
    outcome: Outcome, classification: Classification, *, id: str | int | None
) -> Decision:
    decided_by = [_decided_by(outcome, v, r) for v in outcome.deciding for r in v.rules]
    return Decision(
        id=id,
        decision=outcome.effect.value,
        categories=classification.as_dict(),
        decided_by=decided_by,
        release=_release_info(outcome),
        reason=summarize(outcome),
        evidence=_evidence(classification, outcome),
        classifier=classification.classifier,
    )


def fail_closed(stage: str, exc: BaseException, *, id: str | int | None) -> Decision:
    """Deny because a check could not run. The reason says which and why, never content."""
    reason = f"{stage} failed, so Redline fails closed: {type(exc).__name__}: {exc}"
    return Decision(
        id=id,
        decision="deny",
        categories={},
        decided_by=[
            DecidedBy(policy="redline", rule=f"fail-closed.{stage}", effect="deny", reason=reason)
        ],
        reason=reason[:500],
        failure=stage,
    )
