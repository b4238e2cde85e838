"""The ledger on PostgreSQL, for several gateway workers.

Each process writes one batch at a time (group commit, writer.py); across processes a batch takes an
EXCLUSIVE lock on the entries table, so indexes stay gapless and the tree is built from
the frontier as it stands under that lock.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg

from redline.clock import utcnow
from redline.errors import StoreError
from redline.ledger.content import load_content_key
from redline.ledger.merkle import Frontier
from redline.ledger.store import SCAN_CHUNK, LedgerStore, Pending, node_id, number
from redline.ledger.writer import BatchWriter
from redline.tables import APPEND_ONLY, ledger_ddl

SCHEMA = (
    ledger_ddl("postgresql")
    + """
CREATE OR REPLACE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN RAISE EXCEPTION 'the ledger is append-only'; END $$;
"""
)
TRIGGERS = "".join(
    f"CREATE OR REPLACE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON {t} "
    "FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();\n"
    for t in APPEND_ONLY
)


def conninfo(url: str) -> str:
    """A libpq URI from the SQLAlchemy URL the settings use."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


class PostgresStore(LedgerStore):
    def __init__(self, url: str, content_key: bytes | None = None) -> None:
        self.url = conninfo(url)
        self.content_key = content_key if content_key is not None else load_content_key()
        try:
            self._write_db = psycopg.connect(self.url)
            self._read_db = psycopg.connect(self.url, autocommit=True)
            with self._write_db.transaction():
                # several workers may start at once: one creates the schema
                self._write_db.execute("SELECT pg_advisory_xact_lock(hashtext('redline-ledger'))")
                self._write_db.execute(SCHEMA + TRIGGERS)
        except psycopg.Error as exc:
            raise StoreError(f"cannot open the ledger at PostgreSQL: {exc}") from exc
        self._writer = BatchWriter(self._commit)

    def _append(self, batch: list[Pending], durable: bool) -> list[int]:
        return self._writer.append(batch, durable)

    def _commit(self, batch: list[Pending], durable: bool) -> list[int]:
        db = self._write_db
        try:
            with db.transaction(), db.cursor() as cur:
                if not durable:
                    # Committed, but the WAL flush is left to the next synchronous commit,
                    # which flushes everything before it.
                    cur.execute("SET LOCAL synchronous_commit TO OFF")
                cur.execute("LOCK TABLE ledger_entries IN EXCLUSIVE MODE")
                size = self._size(cur)
                rows = number(self._frontier(cur, size), batch)
                with cur.copy("COPY ledger_entries (idx, body) FROM STDIN") as copy:
                    for row in rows.entries:
                        copy.write_row(row)
                with cur.copy("COPY ledger_nodes (id, hash) FROM STDIN") as copy:
                    for row in rows.nodes:
                        copy.write_row(row)
                if rows.content:
                    with cur.copy("COPY ledger_content (idx, body) FROM STDIN") as copy:
                        for row in rows.content:
                            copy.write_row(row)
        except psycopg.Error as exc:
            raise StoreError(f"ledger append failed: {exc}") from exc
        return [i for i, _ in rows.entries]

    @staticmethod
    def _size(cur: Any) -> int:
        (top,) = cur.execute("SELECT max(idx) FROM ledger_entries").fetchone()
        return 0 if top is None else int(top) + 1

    @staticmethod
    def _frontier(cur: Any, size: int) -> Frontier:
        ids = [node_id(lv, i) for lv, i in Frontier.node_keys(size)]
        got = dict(cur.execute("SELECT id, hash FROM ledger_nodes WHERE id = ANY(%s)", (ids,)))
        if len(got) != len(ids):
            raise StoreError("the ledger's node table is missing frontier nodes")
        return Frontier(size, [bytes(got[i]) for i in ids])

    def sync(self) -> None:
        def flush() -> None:
            # A transaction with an id commits a record and waits for the WAL flush up to it,
            # which covers every earlier commit, ours and other workers' alike.
            with self._write_db.transaction():
                self._write_db.execute("SELECT pg_current_xact_id()")

        try:
            self._writer.call(flush)
        except psycopg.Error as exc:
            raise StoreError(f"ledger sync failed: {exc}") from exc

    def add_checkpoint(self, size: int, root: bytes, note: str) -> None:
        def write() -> None:
            with self._write_db.transaction():
                self._write_db.execute(
                    "INSERT INTO ledger_checkpoints (size, root, note, time) "
                    "VALUES (%s, %s, %s, %s)",
                    (size, root, note, utcnow(timespec="seconds")),
                )

        self._writer.call(write)

    def _rows(self, sql: str, args: Any) -> list[Any]:
        try:
            return self._read_db.execute(sql, args).fetchall()
        except psycopg.Error as exc:
            raise StoreError(f"ledger read failed: {exc}") from exc

    def _nodes(self, ids: list[int]) -> dict[int, bytes]:
        rows = self._rows("SELECT id, hash FROM ledger_nodes WHERE id = ANY(%s)", (ids,))
        return {int(i): bytes(h) for i, h in rows}

    def _entry_body(self, index: int) -> bytes | None:
        rows = self._rows("SELECT body FROM ledger_entries WHERE idx = %s", (index,))
        return bytes(rows[0][0]) if rows else None

    def _content(self, index: int) -> bytes | None:
        rows = self._rows("SELECT body FROM ledger_content WHERE idx = %s", (index,))
        return bytes(rows[0][0]) if rows else None

    def size(self) -> int:
        (top,) = self._rows("SELECT max(idx) FROM ledger_entries", ())[0]
        return 0 if top is None else int(top) + 1

    def scan(self, start: int = 0) -> Iterator[tuple[int, bytes, bytes | None]]:
        with psycopg.connect(self.url, autocommit=True) as db:
            last = start - 1
            while True:
                rows = db.execute(
                    "SELECT e.idx, e.body, n.hash FROM ledger_entries e "
                    "LEFT JOIN ledger_nodes n ON n.id = e.idx "
                    "WHERE e.idx > %s ORDER BY e.idx LIMIT %s",
                    (last, SCAN_CHUNK),
                ).fetchall()
                if not rows:
                    return
                for i, body, h in rows:
                    yield int(i), bytes(body), None if h is None else bytes(h)
                last = rows[-1][0]

    def checkpoints(self) -> list[str]:
        return [r[0] for r in self._rows("SELECT note FROM ledger_checkpoints ORDER BY id", ())]

    def close(self) -> None:
        self._writer.close()
        self._read_db.close()
        self._write_db.close()
