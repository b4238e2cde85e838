"""The relational state store (principals, deployments' keys, approvals): SQLAlchemy 2.
Its tables are declared in redline.tables.

`db` is a filesystem path (SQLite, the embedded default) or a SQLAlchemy URL
(`postgresql+psycopg://...`, for several gateway workers).
"""

from __future__ import annotations

import os
from importlib import resources
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event, make_url, text

# How long a SQLite write waits for another connection's lock before it fails. Redline's own
# commits hold the lock for milliseconds; a lock held longer is a failure, answered 503
# promptly and retried by the client, not a request left hanging (issue 18).
LOCK_TIMEOUT_S = 5.0


def db_url(db: str) -> URL:
    """A URL as given, or a path as a SQLite URL built field by field: a path's '?' or '#'
    is part of the file name, not a query string."""
    return make_url(db) if "://" in db else URL.create("sqlite", database=db)


def private_file(path: str) -> None:
    """Create a database file readable by its owner only (SQLite gives its -wal and -shm
    files the same mode), or take such rights from an existing one."""
    if path in ("", ":memory:") or path.startswith("file:"):
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)


def is_postgres(db: str) -> bool:
    return db_url(db).get_backend_name() == "postgresql"


def make_engine(db: str) -> Engine:
    url = db_url(db)
    if url.get_backend_name() == "sqlite":
        private_file(url.database or "")
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": LOCK_TIMEOUT_S}
        )

        @event.listens_for(engine, "connect")
        def _pragmas(conn: Any, _: Any) -> None:
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute(f"PRAGMA busy_timeout={int(LOCK_TIMEOUT_S * 1000)}")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10)


def migrate(engine: Engine) -> None:
    """Bring the state tables to the latest Alembic revision.

    On PostgreSQL an advisory lock serialises workers that start together.
    """
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(resources.files("redline") / "migrations"))
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(72616)"))
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
