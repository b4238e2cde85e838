"""Which principals a deployment trusts to attest what (SPEC.md: attestations)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from redline.policy.facts import Facts
from redline.subject import Context
from redline.taxonomy import ATTESTATIONS


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


def facts_from(
    context: Context, trust: Trust, approvals: frozenset[str] = frozenset()
) -> tuple[Facts, list[str]]:
    """The facts a pack sees, and the attestations that were given but ignored."""
    roles = frozenset(context.principal.roles)
    principal = context.principal.id
    kept: dict[str, bool] = {}
    ignored: list[str] = []
    for name in ATTESTATIONS:
        given = bool(getattr(context, name))
        ok = given and trust.trusts(name, principal, roles)
        kept[name] = ok
        if given and not ok:
            ignored.append(name)
    facts = Facts(
        authority_ref=kept["authority_ref"],
        senior_review_ref=kept["senior_review_ref"],
        purpose=context.purpose,
        us_persons=context.us_persons_text(),
        classification=context.classification,
        approvals=approvals,
        roles=roles,
        principal=principal,
    )
    return facts, ignored
