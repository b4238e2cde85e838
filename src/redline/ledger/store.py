"""The storage seam the decision engine writes through, and what the ledger stores share.

`append_many` returns only once the entries are durable; if it raises, the caller answers
deny. A caller that releases nothing yet (the gateway forwarding an allowed request) may
append with `durable=False`: the entry is committed, so it survives a crash of the process,
and the next durable append, or `sync()`, puts it on disk before anything is released.
Content (the request itself) is kept apart from the log, keyed by ledger index.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from redline.canonical import canonical_json
from redline.errors import InputError, NotFoundError, StoreError
from redline.ledger import merkle
from redline.ledger.content import seal, unseal
from redline.ledger.entry import LedgerEntry, open_commitment
from redline.ledger.merkle import Frontier

SCAN_CHUNK = 20_000  # rows per query when a scan walks the whole log


@dataclass(frozen=True)
class Sealed:
    """An entry with its content: salt and content go to the content store, never the log."""

    entry: LedgerEntry
    content: Any | None = None
    salt: str | None = None


class DecisionStore(Protocol):
    def append_many(self, items: Sequence[Sealed], *, durable: bool = True) -> list[int]:
        """Append in order (on disk unless `durable=False`); each entry's ledger index."""
        ...

    def sync(self) -> None:
        """Put every committed append on disk."""
        ...

    def entry(self, index: int) -> LedgerEntry: ...

    def size(self) -> int: ...

    def close(self) -> None: ...


def node_id(level: int, index: int) -> int:
    """One integer key per node; a leaf's key is its index."""
    return level << 48 | index


@dataclass
class Pending:
    """An append prepared in the caller's thread; the writer only numbers and hashes it."""

    fields: dict[str, Any]
    content: bytes | None


@dataclass
class Rows:
    entries: list[tuple[int, bytes]]
    nodes: list[tuple[int, bytes]]
    content: list[tuple[int, bytes]]


def number(frontier: Frontier, batch: list[Pending]) -> Rows:
    """Give each pending entry the next index, its canonical bytes and the nodes it completes."""
    rows = Rows([], [], [])
    for p in batch:
        index = frontier.size
        body = canonical_json({**p.fields, "seq": index})
        rows.entries.append((index, body))
        rows.nodes.extend(
            (node_id(lv, i), h) for lv, i, h in frontier.append(merkle.leaf_hash(body))
        )
        if p.content is not None:
            rows.content.append((index, p.content))
    return rows


class LedgerStore(ABC):
    """A Merkle log over a table of entries, a table of every complete subtree's hash, a
    content table and a checkpoints table. Subclasses bring the database."""

    content_key: bytes | None = None
    keep_content: bool = True  # False: only the commitment is kept (content_at_rest "none")
    # Why the last append failed, until an append or a probe succeeds (see write_problem).
    write_failure: str | None = None

    # what a backend provides
    @abstractmethod
    def _append(self, batch: list[Pending], durable: bool) -> list[int]: ...

    @abstractmethod
    def sync(self) -> None:
        """Put every committed append on disk (those made with `durable=False` too)."""

    @abstractmethod
    def _nodes(self, ids: list[int]) -> dict[int, bytes]: ...

    @abstractmethod
    def _entry_body(self, index: int) -> bytes | None: ...

    @abstractmethod
    def _content(self, index: int) -> bytes | None: ...

    @abstractmethod
    def size(self) -> int: ...

    @abstractmethod
    def scan(self, start: int = 0) -> Iterator[tuple[int, bytes, bytes | None]]:
        """(index, entry bytes, stored leaf hash) in index order, from `start`."""

    @abstractmethod
    def add_checkpoint(self, size: int, root: bytes, note: str) -> None: ...

    @abstractmethod
    def checkpoints(self) -> list[str]:
        """Every stored checkpoint note, oldest first."""

    @abstractmethod
    def close(self) -> None: ...

    def probe_write(self) -> None:
        """Raise StoreError if the ledger cannot take a write now. A backend checks what it
        can without writing an entry; the default trusts the last append's outcome."""
        if self.write_failure is not None:
            raise StoreError(self.write_failure)

    def write_problem(self) -> str | None:
        """Why the ledger cannot write now, or None (what /healthz reports)."""
        try:
            self.probe_write()
        except StoreError as exc:
            return str(exc)
        self.write_failure = None
        return None

    # the seam
    def append_many(self, items: Sequence[Sealed], *, durable: bool = True) -> list[int]:
        batch = []
        for it in items:
            fields = it.entry.model_dump(mode="json")
            blob = None
            if self.keep_content and it.content is not None and it.salt is not None:
                blob = seal(it.salt, it.content, it.entry.commitment, self.content_key)
            batch.append(Pending(fields, blob))
        try:
            indexes = self._append(batch, durable)
        except StoreError as exc:
            self.write_failure = str(exc)
            raise
        except Exception as exc:
            self.write_failure = f"ledger append failed: {type(exc).__name__}: {exc}"
            raise StoreError(self.write_failure) from exc
        self.write_failure = None
        return indexes

    def entry_bytes(self, index: int) -> bytes:
        body = self._entry_body(index)
        if body is None:
            raise NotFoundError(f"no ledger entry {index}")
        return body

    def entry(self, index: int) -> LedgerEntry:
        return LedgerEntry.model_validate_json(self.entry_bytes(index))

    def reveal(self, index: int) -> tuple[str, Any]:
        """(salt, content) of an entry, checked against the entry's commitment."""
        entry = self.entry(index)
        blob = self._content(index)
        if blob is None:
            raise NotFoundError(f"no stored content for ledger entry {index}")
        salt, content = unseal(blob, entry.commitment, self.content_key)
        if not open_commitment(content, salt, entry.commitment):
            raise StoreError(f"stored content of entry {index} does not open its commitment")
        return salt, content

    # the tree
    def _read(self, plan: Any) -> Any:
        keys = merkle.needed_nodes(plan)
        got = self._nodes([node_id(lv, i) for lv, i in keys])

        def get(level: int, index: int) -> bytes:
            h = got.get(node_id(level, index))
            if h is None:
                raise StoreError(f"ledger node ({level}, {index}) is missing")
            return h

        return plan(get)

    def _check_size(self, size: int) -> int:
        current = self.size()
        if not 0 <= size <= current:
            raise InputError(f"tree size {size} is outside 0..{current}")
        return current

    def root(self, size: int) -> bytes:
        self._check_size(size)
        result: bytes = self._read(lambda get: merkle.root_hash(get, size))
        return result

    def tree_head(self) -> tuple[int, bytes]:
        size = self.size()
        return size, self.root(size)

    def leaf_hash(self, index: int) -> bytes:
        got = self._nodes([node_id(0, index)])
        if index not in got:
            raise NotFoundError(f"no ledger entry {index}")
        return got[index]

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        self._check_size(size)
        if not 0 <= index < size:
            raise InputError(f"index {index} is outside a tree of size {size}")
        proof: list[bytes] = self._read(lambda get: merkle.inclusion_proof(get, index, size))
        return proof

    def consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        self._check_size(size2)
        if not 0 <= size1 <= size2:
            raise InputError(f"no consistency proof from size {size1} to {size2}")
        proof: list[bytes] = self._read(lambda get: merkle.consistency_proof(get, size1, size2))
        return proof

    def latest_checkpoint(self) -> str | None:
        notes = self.checkpoints()
        return notes[-1] if notes else None

    def frontier(self, size: int) -> Frontier:
        keys = Frontier.node_keys(size)
        got = self._nodes([node_id(lv, i) for lv, i in keys])
        try:
            return Frontier(size, [got[node_id(lv, i)] for lv, i in keys])
        except KeyError as exc:
            raise StoreError(f"ledger frontier node {exc} is missing") from exc
