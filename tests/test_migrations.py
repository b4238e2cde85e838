"""The Alembic migrations build exactly the tables the code defines, on both databases."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from redline.db import make_engine, migrate
from redline.tables import metadata


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migrations_match_the_table_definitions(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    db = str(tmp_path / "s.db") if backend == "sqlite" else request.getfixturevalue("postgres_url")
    engine = make_engine(db)
    migrate(engine)
    migrate(engine)  # idempotent: a second start changes nothing
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn)
        assert ctx.get_current_revision() == "0005"
        diff = compare_metadata(ctx, metadata)
    assert diff == [], f"migrations and table definitions differ: {diff}"
    names = set(inspect(engine).get_table_names())
    assert {"principals", "api_keys", "approvals", "approval_votes", "parked_answers",
            "aggregate_subjects"} <= names  # fmt: skip
    engine.dispose()
