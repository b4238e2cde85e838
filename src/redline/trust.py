"""Which principals a deployment trusts to attest what (SPEC.md: attestations)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from redline.policy.facts import Facts
from redline.subject import Context

# Every attestation a context can carry (SPEC.md); each counts only from a trusted principal.
ATTESTED: tuple[str, ...] = (
    "authority_ref",
    "senior_review_ref",
    "purpose",
    "classification",
    "us_persons",
)


@dataclass(frozen=True)
class Trust:
    """`attesters[a]` lists the principal ids or `role:NAME` entries trusted for attestation a.

    `trust_all` is for the local `redline check` tool, where the operator is the only user.
    A server always runs with explicit attesters; an untrusted attestation is ignored.
    """

    attesters: Mapping[str, frozenset[str]] = field(default_factory=dict)
    trust_all: bool = False

    def trusts(self, attestation: str, principal: str, roles: frozenset[str]) -> bool:
        if self.trust_all:
            return True
        allowed = self.attesters.get(attestation, frozenset())
        return principal in allowed or any(f"role:{r}" in allowed for r in roles)


TRUST_ALL = Trust(trust_all=True)


def _given(context: Context, name: str) -> bool:
    """Whether the context attests `name` at all (`us_persons` "unknown" attests nothing)."""
    if name == "us_persons":
        return context.us_persons_text() != "unknown"
    return bool(getattr(context, name))


def facts_from(
    context: Context, trust: Trust, approvals: frozenset[str] = frozenset()
) -> tuple[Facts, list[str]]:
    """The facts a pack sees, and the attestations that were given but ignored.

    Every attestation counts only from a principal the deployment trusts for it; any other
    is ignored (the pack sees its default) and listed, so the decision and its ledger entry
    say so.
    """
    roles = frozenset(context.principal.roles)
    principal = context.principal.id
    kept: dict[str, bool] = {}
    ignored: list[str] = []
    for name in ATTESTED:
        given = _given(context, name)
        kept[name] = given and trust.trusts(name, principal, roles)
        if given and not kept[name]:
            ignored.append(name)
    facts = Facts(
        authority_ref=kept["authority_ref"],
        senior_review_ref=kept["senior_review_ref"],
        purpose=context.purpose if kept["purpose"] else "",
        us_persons=context.us_persons_text() if kept["us_persons"] else "unknown",
        classification=context.classification if kept["classification"] else "",
        approvals=approvals,
        roles=roles,
        principal=principal,
    )
    return facts, ignored
