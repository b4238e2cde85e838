"""The embedded ledger: SQLite in WAL mode, synchronous=FULL, one writer at a time that
commits queued appends in batches (group commit, writer.py). Readers use their own
connections.

A batch that asked for no durability commits with synchronous=NORMAL: its WAL frames are
written (a crash of the process keeps them) but not synced; the next FULL commit syncs the
WAL, and with it every frame before its own."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

from redline.clock import utcnow
from redline.db import LOCK_TIMEOUT_S, private_file
from redline.errors import StoreError
from redline.ledger.content import load_content_key
from redline.ledger.merkle import Frontier
from redline.ledger.store import SCAN_CHUNK, LedgerStore, Pending, number
from redline.ledger.writer import BatchWriter
from redline.tables import APPEND_ONLY, ledger_ddl

SCHEMA = ledger_ddl("sqlite")
TRIGGERS = "".join(
    f"""
CREATE TRIGGER IF NOT EXISTS {t}_no_update BEFORE UPDATE ON {t}
  BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
CREATE TRIGGER IF NOT EXISTS {t}_no_delete BEFORE DELETE ON {t}
  BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;"""
    for t in APPEND_ONLY
)
PROBE_LOCK_S = 1.0  # /healthz waits this long for the write lock before it says so


def connect(path: str, lock_timeout_s: float = LOCK_TIMEOUT_S) -> sqlite3.Connection:
    db = sqlite3.connect(
        path, check_same_thread=False, isolation_level=None, timeout=lock_timeout_s
    )
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute(f"PRAGMA busy_timeout={int(lock_timeout_s * 1000)}")
    return db


class SqliteStore(LedgerStore):
    def __init__(self, path: str | Path, content_key: bytes | None = None) -> None:
        self.path = str(path)
        self.content_key = content_key if content_key is not None else load_content_key()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        try:
            private_file(self.path)
            self._db = connect(self.path)
            # fewer, larger WAL checkpoints: each one syncs the database file
            self._db.execute("PRAGMA wal_autocheckpoint=8192")
            self._db.executescript(SCHEMA + TRIGGERS)
            size = self._size(self._db)
            self._frontier = self.frontier_from(self._db, size)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the ledger at {self.path}: {exc}") from exc
        self._writer = BatchWriter(self._commit)

    @staticmethod
    def _size(db: sqlite3.Connection) -> int:
        (top,) = db.execute("SELECT max(idx) FROM ledger_entries").fetchone()
        return 0 if top is None else int(top) + 1

    def frontier_from(self, db: sqlite3.Connection, size: int) -> Frontier:
        ids = [lv << 48 | i for lv, i in Frontier.node_keys(size)]
        marks = ",".join("?" * len(ids))
        got = dict(db.execute(f"SELECT id, hash FROM ledger_nodes WHERE id IN ({marks})", ids))  # noqa: S608
        if len(got) != len(ids):
            raise StoreError("the ledger's node table is missing frontier nodes")
        return Frontier(size, [got[i] for i in ids])

    # writes: only by the BatchWriter's current writer, one thread at a time
    def _append(self, batch: list[Pending], durable: bool) -> list[int]:
        return self._writer.append(batch, durable)

    def _commit(self, batch: list[Pending], durable: bool) -> list[int]:
        db = self._db
        saved = Frontier(self._frontier.size, [h for _, h in self._frontier.stack])
        try:
            db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            db.execute("BEGIN IMMEDIATE")
            # Another process (`redline check` on the server's file) may have appended since
            # our last batch: continue from the tree as it stands under the write lock.
            size = self._size(db)
            if size != self._frontier.size:
                self._frontier = self.frontier_from(db, size)
                saved = Frontier(size, [h for _, h in self._frontier.stack])
            rows = number(self._frontier, batch)
            db.executemany("INSERT INTO ledger_entries (idx, body) VALUES (?, ?)", rows.entries)
            db.executemany("INSERT INTO ledger_nodes (id, hash) VALUES (?, ?)", rows.nodes)
            db.executemany("INSERT INTO ledger_content (idx, body) VALUES (?, ?)", rows.content)
            db.execute("COMMIT")
        except (sqlite3.Error, StoreError) as exc:
            self._frontier = saved
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise StoreError(f"ledger append failed: {exc}") from exc
        return [i for i, _ in rows.entries]

    def sync(self) -> None:
        def fsync_wal() -> None:
            # What a FULL commit does: sync the WAL, which holds every frame not yet synced.
            try:
                fd = os.open(self.path + "-wal", os.O_RDONLY)
            except FileNotFoundError:
                return  # checkpointed away: a checkpoint syncs the WAL before it copies
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

        try:
            self._writer.call(fsync_wal)
        except OSError as exc:
            raise StoreError(f"ledger sync failed: {exc}") from exc

    def probe_write(self) -> None:
        """1. Take the write lock from a connection of its own, briefly: another connection
           holding it (a lock, a stuck process) means no append can commit.
        2. Commit a one-row write outside the log through the writer (not waiting for the
           disk): a full disk or an unwritable file fails it, and a recovered one passes."""
        try:
            db = connect(self.path, lock_timeout_s=PROBE_LOCK_S)
            try:
                db.execute("BEGIN IMMEDIATE")
                db.execute("ROLLBACK")
            finally:
                db.close()
        except sqlite3.Error as exc:
            raise StoreError(f"the ledger cannot write: {exc}") from exc

        def write() -> None:
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "INSERT OR REPLACE INTO ledger_probe (id, time) VALUES (1, ?)",
                    (utcnow(timespec="seconds"),),
                )
                self._db.execute("COMMIT")
            except sqlite3.Error:
                self._db.execute("ROLLBACK")
                raise

        try:
            self._writer.call(write)
        except sqlite3.Error as exc:
            raise StoreError(f"the ledger cannot write: {exc}") from exc

    def add_checkpoint(self, size: int, root: bytes, note: str) -> None:
        def write() -> None:
            self._db.execute(
                "INSERT INTO ledger_checkpoints (size, root, note, time) VALUES (?, ?, ?, ?)",
                (size, root, note, utcnow(timespec="seconds")),
            )

        self._writer.call(write)

    # reads: a connection per thread
    def _reader(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = connect(self.path)
            self._local.db = db
            with self._readers_lock:
                self._readers.append(db)
        return db

    def _nodes(self, ids: list[int]) -> dict[int, bytes]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        sql = f"SELECT id, hash FROM ledger_nodes WHERE id IN ({marks})"  # noqa: S608
        return dict(self._reader().execute(sql, ids).fetchall())

    def _entry_body(self, index: int) -> bytes | None:
        row = (
            self._reader()
            .execute("SELECT body FROM ledger_entries WHERE idx = ?", (index,))
            .fetchone()
        )
        return None if row is None else bytes(row[0])

    def _content(self, index: int) -> bytes | None:
        row = (
            self._reader()
            .execute("SELECT body FROM ledger_content WHERE idx = ?", (index,))
            .fetchone()
        )
        return None if row is None else bytes(row[0])

    def size(self) -> int:
        return self._size(self._reader())

    def scan(self, start: int = 0) -> Iterator[tuple[int, bytes, bytes | None]]:
        db = connect(self.path)  # its own connection: a scan outlives many calls
        try:
            last = start - 1
            while True:
                rows = db.execute(
                    "SELECT e.idx, e.body, n.hash FROM ledger_entries e "
                    "LEFT JOIN ledger_nodes n ON n.id = e.idx "
                    "WHERE e.idx > ? ORDER BY e.idx LIMIT ?",
                    (last, SCAN_CHUNK),
                ).fetchall()
                if not rows:
                    return
                yield from rows
                last = rows[-1][0]
        finally:
            db.close()

    def checkpoints(self) -> list[str]:
        rows = self._reader().execute("SELECT note FROM ledger_checkpoints ORDER BY id")
        return [r[0] for r in rows]

    def close(self) -> None:
        self._writer.close()
        with self._readers_lock:
            for db in self._readers:
                db.close()
            self._readers.clear()
        self._db.close()
