"""Open the ledger a `db` setting names: a SQLite path, or a PostgreSQL URL."""

from __future__ import annotations

from redline.db import is_postgres
from redline.ledger.store import LedgerStore


def open_ledger(db: str, content_key: bytes | None = None) -> LedgerStore:
    if is_postgres(db):
        from redline.ledger.postgres import PostgresStore

        return PostgresStore(db, content_key)
    from redline.ledger.sqlite import SqliteStore

    return SqliteStore(db, content_key)
