"""Helpers for the console tests (no tests here): a live server with a ledger signer, and
signing in through the console's own form."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import httpx

from redline.ledger.checkpoint import Checkpointer
from redline.ledger.note import Signer
from tests.support.server import Server, running

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


@contextmanager
def console_server(tmp: Path, **extra: Any) -> Iterator[Server]:
    """The identity tests' server (deployments alpha, beta; every role), signing checkpoints."""
    with running(tmp, **extra) as srv:
        services = srv.app.state.services
        services.checkpointer = Checkpointer(
            services.store, Signer.generate("redline.test/console"), 0
        )
        yield srv


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]*)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


class Served(Protocol):
    """A running Redline: `Server`, or the gateway in front of the fake upstream."""

    @property
    def base(self) -> str: ...

    @property
    def keys(self) -> dict[str, str]: ...


def sign_in(srv: Served, who: str, **headers: str) -> httpx.Client:
    """An httpx client signed in to the console as `who` through the sign-in form."""
    client = httpx.Client(base_url=srv.base, timeout=30, headers=headers)
    page = client.get("/console/login")
    r = client.post("/console/login", data={"key": srv.keys[who], "csrf": csrf_of(page.text)})
    assert r.status_code == 303 and r.headers["location"] == "/console/approvals", r.text
    return client


def tamper_entry(db: str, index: int, old: bytes, new: bytes) -> None:
    """Change bytes of a stored ledger entry, as someone with the database file could: the
    append-only trigger is dropped first."""
    conn = sqlite3.connect(db)
    try:
        conn.execute("DROP TRIGGER IF EXISTS ledger_entries_no_update")
        (body,) = conn.execute("SELECT body FROM ledger_entries WHERE idx = ?", (index,)).fetchone()
        assert old in body
        conn.execute(
            "UPDATE ledger_entries SET body = ? WHERE idx = ?", (body.replace(old, new, 1), index)
        )
        conn.commit()
    finally:
        conn.close()
