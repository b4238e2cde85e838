"""The storage seam the decision engine writes through.

`append` returns only once the entry is durable; if it raises, the caller answers deny.
Content (the request itself) is kept apart from the log, keyed by ledger index.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from redline.ledger.entry import LedgerEntry


@dataclass(frozen=True)
class Sealed:
    """An entry with its content: salt and content go to the content store, never the log."""

    entry: LedgerEntry
    content: Any | None = None
    salt: str | None = None


class DecisionStore(Protocol):
    def append_many(self, items: Sequence[Sealed]) -> list[int]:
        """Append durably, in order; return each entry's ledger index."""
        ...

    def entry(self, index: int) -> LedgerEntry: ...

    def size(self) -> int: ...

    def close(self) -> None: ...
