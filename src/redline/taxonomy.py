"""Use taxonomy v1 (SPEC.md): the category names are a public contract."""

from __future__ import annotations

from enum import StrEnum

from redline.errors import UnknownCategoryError

TAXONOMY_VERSION = "1"

CATEGORIES: tuple[str, ...] = (
    "mass_surveillance",
    "targeted_surveillance",
    "target_development",
    "autonomous_weapons",
    "use_of_force",
    "weapons_development",
    "cbrn_weapons",
    "cyber_offense",
    "influence_operations",
    "harmful_content",
    "foreign_intelligence",
    "defensive_security",
    "operations_support",
    "general",
)

#: Categories that no pack restricts; everything else may be held or denied by some pack.
ALLOWED_CATEGORIES: frozenset[str] = frozenset(
    {"foreign_intelligence", "defensive_security", "operations_support", "general"}
)
RESTRICTED_CATEGORIES: tuple[str, ...] = tuple(c for c in CATEGORIES if c not in ALLOWED_CATEGORIES)

ATTESTATIONS: tuple[str, ...] = ("authority_ref", "senior_review_ref")
APPROVER_ROLES: tuple[str, ...] = ("approver", "commander")


def check_category(name: str) -> str:
    if name not in CATEGORIES:
        raise UnknownCategoryError(
            f"unknown category {name!r}: expected one of taxonomy v{TAXONOMY_VERSION}: "
            + ", ".join(CATEGORIES)
        )
    return name


class Effect(StrEnum):
    """Decision effects, ordered allow < hold < deny: the most restrictive wins."""

    ALLOW = "allow"
    HOLD = "hold"
    DENY = "deny"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @staticmethod
    def strictest(effects: list[Effect]) -> Effect:
        return max(effects, key=lambda e: e.rank, default=Effect.ALLOW)


_RANK = {Effect.ALLOW: 0, Effect.HOLD: 1, Effect.DENY: 2}
