"""Distinct subjects per principal and per deployment, in the state store.

Table `aggregate_subjects` holds one row per (deployment, scope, subject hash) with the time
it was last seen (scope: the principal's id, or "" for the deployment). A window's count is
the rows seen inside it, so every worker on one database reads the same count and a restart
keeps it; rows older than the longest window are pruned. A count and the rows it adds are
one transaction under a lock per (deployment, principal): a process lock on SQLite's one
connection, an advisory lock on PostgreSQL. The same SQL runs on both.
"""

from __future__ import annotations

import functools
import hashlib
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import TextClause, text

from redline.aggregate.tally import WINDOWS, Tally
from redline.db import db_url, make_engine, migrate

DEPLOYMENT_SCOPE = ""  # the scope of a deployment's own count (a principal id is never empty)
RETENTION_S = max(WINDOWS.values())
PRUNE_EVERY_S = 60.0

_COUNTS = (
    "SELECT scope, SUM(CASE WHEN last_seen >= :t_1h THEN 1 ELSE 0 END), COUNT(*) "
    "FROM aggregate_subjects WHERE deployment = :d AND scope IN (:p, '') "
    "AND last_seen >= :t_24h GROUP BY scope"
)
_UPSERT = (
    "INSERT INTO aggregate_subjects (deployment, scope, subject, last_seen) "
    "VALUES (:d, :scope, :s, :now) ON CONFLICT (deployment, scope, subject) "
    "DO UPDATE SET last_seen = excluded.last_seen"
)
_PRUNE = "DELETE FROM aggregate_subjects WHERE last_seen < :before"
_SHOW = (
    "SELECT scope, subject, last_seen FROM aggregate_subjects WHERE deployment = :d "
    "AND last_seen >= :since ORDER BY scope, last_seen DESC"
)


def _known(n: int) -> str:
    """The subjects among `n` given (named :s0 ...) already seen; only placeholders are
    formatted into the text, never a value."""
    names = ", ".join(f":s{i}" for i in range(n))
    where = f"WHERE deployment = :d AND scope IN (:p, '') AND subject IN ({names})"
    return "SELECT scope, subject, last_seen FROM aggregate_subjects " + where  # noqa: S608


Query = Callable[[str, dict[str, Any]], list[Any]]
ExecuteMany = Callable[[str, list[dict[str, Any]]], object]


@dataclass(frozen=True)
class ScopeCounts:
    """What `redline aggregates show` lists for one scope: counts and the hashes."""

    scope: str
    counts: dict[str, int]  # window -> distinct subjects
    subjects: list[tuple[str, float]]  # (hash, last seen), newest first


class WindowSession:
    """One principal's windows inside one transaction (see AggregateStore.session)."""

    def __init__(
        self, query: Query, many: ExecuteMany, deployment: str, principal: str, now: float
    ) -> None:
        self.query, self.many = query, many
        self.deployment, self.principal, self.now = deployment, principal, now

    def tally(self, subjects: Sequence[str], *, lookup: bool) -> Tally:
        """The counts as they would be with `subjects` added (this request included)."""
        since = {w: self.now - s for w, s in WINDOWS.items()}
        params: dict[str, Any] = {"d": self.deployment, "p": self.principal}
        params |= {"t_1h": since["1h"], "t_24h": since["24h"]}
        counts = {self.principal: {"1h": 0, "24h": 0}, DEPLOYMENT_SCOPE: {"1h": 0, "24h": 0}}
        for scope, in_1h, in_24h in self.query(_COUNTS, params):
            counts[scope] = {"1h": int(in_1h or 0), "24h": int(in_24h or 0)}
        seen: dict[tuple[str, str], float] = {}
        if subjects:
            named = {f"s{i}": s for i, s in enumerate(subjects)}
            for scope, subject, last in self.query(_known(len(subjects)), params | named):
                seen[(scope, subject)] = float(last)
        for scope, per_window in counts.items():
            for window, start in since.items():
                per_window[window] += sum(1 for s in subjects if seen.get((scope, s), -1.0) < start)
        return Tally(
            principal=counts[self.principal], deployment=counts[DEPLOYMENT_SCOPE],
            subjects=len(subjects), lookup=lookup,
        )  # fmt: skip

    def add(self, subjects: Sequence[str]) -> None:
        rows = [
            {"d": self.deployment, "scope": scope, "s": s, "now": self.now}
            for scope in (self.principal, DEPLOYMENT_SCOPE)
            for s in dict.fromkeys(subjects)
        ]
        if rows:
            self.many(_UPSERT, rows)


def _lock_key(deployment: str, principal: str) -> int:
    digest = hashlib.sha256(f"{deployment}\x00{principal}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@functools.lru_cache(maxsize=256)
def _text(sql: str) -> TextClause:
    return text(sql)


class AggregateStore:
    """The windows of every deployment on one database (migrated on open)."""

    def __init__(self, db: str) -> None:
        self.engine = make_engine(db)
        migrate(self.engine)
        self.postgres = self.engine.dialect.name == "postgresql"
        self._sqlite: sqlite3.Connection | None = None
        if not self.postgres:
            self.engine.dispose()
            self._sqlite = _connect(str(db_url(db).database))
        self._lock = threading.Lock()
        self._pruned = 0.0

    @contextmanager
    def session(self, deployment: str, principal: str) -> Iterator[WindowSession]:
        """One transaction: count, decide, maybe add; rolled back if anything raises."""
        now = time.time()
        prune = now - self._pruned > PRUNE_EVERY_S
        if prune:
            self._pruned = now
        if self._sqlite is not None:
            with self._lock:
                yield from self._sqlite_session(self._sqlite, deployment, principal, now, prune)
            return
        yield from self._postgres_session(deployment, principal, now, prune)

    def _sqlite_session(
        self, db: sqlite3.Connection, deployment: str, principal: str, now: float, prune: bool
    ) -> Iterator[WindowSession]:
        db.execute("BEGIN IMMEDIATE")
        try:
            yield WindowSession(
                lambda sql, p: db.execute(sql, p).fetchall(),
                lambda sql, rows: db.executemany(sql, rows),
                deployment, principal, now,
            )  # fmt: skip
            if prune:
                db.execute(_PRUNE, {"before": now - RETENTION_S})
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _postgres_session(
        self, deployment: str, principal: str, now: float, prune: bool
    ) -> Iterator[WindowSession]:
        with self.engine.begin() as conn:
            conn.execute(
                _text("SELECT pg_advisory_xact_lock(:k)"), {"k": _lock_key(deployment, principal)}
            )
            # Flushed to disk with the decision's ledger entry, whose commit is synchronous.
            conn.execute(_text("SET LOCAL synchronous_commit TO OFF"))
            yield WindowSession(
                lambda sql, p: list(conn.execute(_text(sql), p).all()),
                lambda sql, rows: conn.execute(_text(sql), rows),
                deployment, principal, now,
            )  # fmt: skip
            if prune:
                conn.execute(_text(_PRUNE), {"before": now - RETENTION_S})

    def show(self, deployment: str, now: float | None = None) -> list[ScopeCounts]:
        """Every scope of a deployment with subjects inside the longest window."""
        now = time.time() if now is None else now
        params = {"d": deployment, "since": now - RETENTION_S}
        if self._sqlite is not None:
            with self._lock:
                rows = self._sqlite.execute(_SHOW, params).fetchall()
        else:
            with self.engine.connect() as conn:
                rows = list(conn.execute(_text(_SHOW), params).all())
        by_scope: dict[str, list[tuple[str, float]]] = {}
        for scope, subject, last_seen in rows:
            by_scope.setdefault(scope, []).append((subject, last_seen))
        return [
            ScopeCounts(
                scope=scope,
                counts={w: sum(1 for _, t in found if t >= now - s) for w, s in WINDOWS.items()},
                subjects=found,
            )
            for scope, found in by_scope.items()
        ]

    def close(self) -> None:
        if self._sqlite is not None:
            self._sqlite.close()
        self.engine.dispose()


def _connect(path: str) -> sqlite3.Connection:
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
    db.execute("PRAGMA journal_mode=WAL")
    # The row is written (a crashed process keeps it) and synced with the decision's ledger
    # entry that follows it in the same write-ahead log.
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA busy_timeout=30000")
    return db
