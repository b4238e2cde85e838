"""Who is asking: an authenticated principal of one deployment."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

ROLES: tuple[str, ...] = ("requester", "approver", "commander", "auditor", "admin")


@dataclass(frozen=True)
class Principal:
    id: str
    name: str
    roles: frozenset[str]
    deployment: str

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    def has_role(self, role: str) -> bool:
        return role in self.roles


def parse_roles(stored: str) -> tuple[str, ...]:
    """Roles as the state tables store them: comma-separated, sorted."""
    return tuple(r for r in stored.split(",") if r)


def join_roles(roles: Iterable[str]) -> str:
    return ",".join(sorted(roles))
