"""Append-only SQLite decision log (WAL, one writer)."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

from redline.errors import NotFoundError, StoreError
from redline.ledger.entry import LedgerEntry
from redline.ledger.store import Sealed

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (idx INTEGER PRIMARY KEY, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS content (idx INTEGER PRIMARY KEY, salt TEXT NOT NULL, body TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS entries_no_update BEFORE UPDATE ON entries
  BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
CREATE TRIGGER IF NOT EXISTS entries_no_delete BEFORE DELETE ON entries
  BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
"""


class SqliteStore:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the ledger at {self.path}: {exc}") from exc

    def append_many(self, items: Sequence[Sealed]) -> list[int]:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                (start,) = self._db.execute("SELECT COUNT(*) FROM entries").fetchone()
                rows = [(start + i, it.entry.canonical()) for i, it in enumerate(items)]
                self._db.executemany("INSERT INTO entries (idx, body) VALUES (?, ?)", rows)
                self._db.executemany(
                    "INSERT INTO content (idx, salt, body) VALUES (?, ?, ?)",
                    [
                        (start + i, it.salt, json.dumps(it.content))
                        for i, it in enumerate(items)
                        if it.content is not None and it.salt is not None
                    ],
                )
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._db.execute("ROLLBACK")
                raise StoreError(f"ledger append failed: {exc}") from exc
        return [r[0] for r in rows]

    def entry(self, index: int) -> LedgerEntry:
        row = self._db.execute("SELECT body FROM entries WHERE idx = ?", (index,)).fetchone()
        if row is None:
            raise NotFoundError(f"no ledger entry {index}")
        return LedgerEntry.model_validate_json(row[0])

    def size(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM entries").fetchone()[0])

    def close(self) -> None:
        self._db.close()
