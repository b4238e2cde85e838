"""Shared fixtures: a real Redline server over loopback, temporary databases.

Helpers live in tests/support/; fixtures used by one folder live in its conftest.py."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from redline.classify.model import ModelClassifier, load_model_classifier
from redline.errors import ClassifierError
from tests.support.server import Server, running

POSTGRES_URL = os.environ.get(
    "REDLINE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


SLOW_TIMEOUT_S = 900  # the `slow` tests' limit; every other test has pyproject's 300 s


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("slow") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(SLOW_TIMEOUT_S))


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    return str(tmp_path / "redline.db")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL schema per test on the machine's real server."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in POSTGRES_URL else "?"
    yield f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def srv(tmp_path: Path) -> Iterator[Server]:
    """A fresh Redline server with the people of tests.support.server.PEOPLE."""
    with running(tmp_path) as server:
        yield server


@pytest.fixture(scope="module")
def shared_srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One such server for a whole module, for tests that do not depend on each other."""
    with running(tmp_path_factory.mktemp("srv")) as server:
        yield server


@pytest.fixture(scope="module")
def model() -> ModelClassifier:
    """The shipped classifier (`make test` builds its model first). Without the model the
    tests that need it are skipped, except under CI, where a missing model fails."""
    try:
        return load_model_classifier()
    except ClassifierError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"the model is not built: {exc}")
