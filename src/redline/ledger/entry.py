"""What the ledger records. Content never enters it: only a salted commitment to it."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from redline.canonical import canonical_json


class DecidedByRef(BaseModel):
    model_config = ConfigDict(frozen=True)
    policy: str
    rule: str
    effect: str
    category: str | None = None


class LedgerEntry(BaseModel):
    """One leaf of the Merkle log, hashed as its canonical JSON.

    `kind` is "decision" for a decision and "approval.<event>" for approval-workflow events,
    which name the decision they release in `refers_to` (its ledger index).
    """

    model_config = ConfigDict(frozen=True)

    kind: str = "decision"
    seq: int | None = None  # the ledger index, set by the store as it appends
    time: str  # RFC 3339 UTC
    deployment: str
    principal: str
    policies: dict[str, str] = Field(default_factory=dict)  # pack name -> sha256 of its text
    classifier: str = ""  # classifier version (the model file's sha256 for the trained model)
    commitment: str = ""  # hex sha256(salt || canonical content)
    subject_hash: str = ""  # sha256 of the canonical content, the identity approvals bind to
    categories: dict[str, float] = Field(default_factory=dict)
    decision: Literal["allow", "hold", "deny", ""] = ""
    decided_by: list[DecidedByRef] = Field(default_factory=list)
    refers_to: int | None = None
    detail: dict[str, Any] = Field(default_factory=dict)

    def canonical(self) -> bytes:
        return canonical_json(self.model_dump(mode="json"))


def commit(content: Any) -> tuple[str, str]:
    """A hiding commitment to content: (hex salt, hex sha256(salt || canonical content))."""
    salt = secrets.token_bytes(32)
    digest = hashlib.sha256(salt + canonical_json(content)).hexdigest()
    return salt.hex(), digest


def open_commitment(content: Any, salt_hex: str, commitment: str) -> bool:
    digest = hashlib.sha256(bytes.fromhex(salt_hex) + canonical_json(content)).hexdigest()
    return secrets.compare_digest(digest, commitment)
