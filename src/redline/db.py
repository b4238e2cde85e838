"""The relational state store (principals, deployments' keys, approvals): SQLAlchemy 2.

`db` is a filesystem path (SQLite, the embedded default) or a SQLAlchemy URL
(`postgresql+psycopg://...`, for several gateway workers).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, MetaData, create_engine, event

metadata = MetaData()


def db_url(db: str) -> str:
    return db if "://" in db else f"sqlite:///{db}"


def is_postgres(db: str) -> bool:
    return db_url(db).startswith("postgresql")


def make_engine(db: str) -> Engine:
    url = db_url(db)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(conn: Any, _: Any) -> None:
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10)
