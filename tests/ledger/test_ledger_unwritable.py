"""When the ledger cannot write during an approval (issue 18, item 8): `approve` answers a
clean 503 in the one error shape, grants nothing and stays retryable, and /healthz stops
saying "ok" until the ledger writes again. The failures are real: another connection holding
SQLite's write lock, and the database's write-ahead log made unwritable (`chattr +i`)."""

from __future__ import annotations

import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from redline.errors import StoreError
from redline.ledger.entry import LedgerEntry
from redline.ledger.store import Sealed
from tests.support.server import ENGAGE, Server, running


@contextmanager
def write_lock(db: Path) -> Iterator[None]:
    """Another connection holds the database's write lock (as a stuck process would)."""
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


@contextmanager
def unwritable(path: Path) -> Iterator[None]:
    """The file cannot be written, even by root (the immutable attribute)."""
    subprocess.run(["chattr", "+i", str(path)], check=True)
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def _health(srv: Server) -> tuple[int, dict[str, object]]:
    r = srv.client.get(srv.base + "/healthz")
    return r.status_code, r.json()


def _refused_then_retried(srv: Server, aid: str, failing: object) -> None:
    """Approve while `failing` holds: 503 in the error shape, /healthz not ok, nothing
    granted; afterwards /healthz is ok and the same approve and resume go through."""
    with failing:  # type: ignore[attr-defined]
        r = srv.post("a-cmd", f"/v1/approvals/{aid}/approve")
        assert r.status_code == 503, r.text
        error = r.json()["error"]
        assert error["type"] == "server_error" and "retry" in error["message"], error
        assert "nothing was granted" in error["message"]
        status, health = _health(srv)
        assert status == 503 and health["status"] != "ok" and not health["ledger_writable"]
        assert "ledger cannot write" in str(health["ledger_problem"])
    assert _health(srv) == (200, _health(srv)[1]) and _health(srv)[1]["status"] == "ok"
    # Nothing was granted: the approval is still pending, and a resume gets no token.
    assert srv.get("a-cmd", f"/v1/approvals/{aid}").json()["state"] == "pending"
    r = srv.post("a-req", "/v1/decide", ENGAGE, **{"Redline-Approval-Id": aid})
    assert r.status_code == 409 and "action_token" not in r.text
    # Retryable: the same approve now succeeds, and the resume carries the token.
    r = srv.post("a-cmd", f"/v1/approvals/{aid}/approve")
    assert r.status_code == 200 and r.json()["state"] == "approved", r.text
    r = srv.post("a-req", "/v1/decide", ENGAGE, **{"Redline-Approval-Id": aid})
    assert r.status_code == 200 and r.json()["action_token"], r.text


def test_approve_while_another_connection_holds_the_write_lock(tmp_path: Path) -> None:
    with running(tmp_path) as srv:
        aid = srv.hold()
        assert _health(srv)[1]["status"] == "ok"
        _refused_then_retried(srv, aid, write_lock(tmp_path / "redline.db"))


def test_approve_while_the_database_cannot_be_written(tmp_path: Path) -> None:
    with running(tmp_path) as srv:
        aid = srv.hold()
        wal = tmp_path / "redline.db-wal"
        assert wal.exists()
        _refused_then_retried(srv, aid, unwritable(wal))


def test_an_approval_whose_ledger_event_failed_is_recorded_when_retried(
    tmp_path: Path,
) -> None:
    """The state committed but the ledger's append failed (its own connection hit a full
    database, SQLite's page limit): the approve answers 503, the approval grants nothing,
    and the approver's retry records the event and answers 200."""
    with running(tmp_path) as srv:
        aid = srv.hold()
        store = srv.app.state.services.store
        writer = store._db  # the ledger's own connection: the state has its own
        (pages,) = writer.execute("PRAGMA page_count").fetchone()
        writer.execute(f"PRAGMA max_page_count={pages}")
        try:
            entry = LedgerEntry(time="2025-01-01T00:00:00Z", deployment="x", principal="x")
            filler = Sealed(entry)
            with pytest.raises(StoreError):  # fill the ledger up to the limit
                for _ in range(10_000):
                    store.append_many([filler])
            r = srv.post("a-cmd", f"/v1/approvals/{aid}/approve")
            assert r.status_code == 503, r.text
            assert "nothing was granted" in r.json()["error"]["message"]
            resumed = srv.post("a-req", "/v1/decide", ENGAGE, **{"Redline-Approval-Id": aid})
            assert resumed.status_code >= 500 and "action_token" not in resumed.text
        finally:
            writer.execute("PRAGMA max_page_count=1073741823")
        r = srv.post("a-cmd", f"/v1/approvals/{aid}/approve")
        assert r.status_code == 200 and r.json()["state"] == "approved", r.text
        ledger = srv.app.state.services.store
        kinds = [ledger.entry(i) for i in range(ledger.size())]
        late = [
            e for e in kinds if e.kind == "approval.approved" and e.detail["approval_id"] == aid
        ]
        assert len(late) == 1 and late[0].detail["recorded_late"] is True
