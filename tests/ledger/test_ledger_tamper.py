"""An attacker with database access: every kind of tampering is caught by `redline ledger
verify`, which names what is wrong and exits non-zero. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from redline.cli.main import app
from redline.ledger import merkle
from redline.ledger.checkpoint import Checkpointer
from redline.ledger.entry import LedgerEntry, commit
from redline.ledger.note import Signer, sign
from redline.ledger.open import open_ledger
from redline.ledger.postgres import conninfo
from redline.ledger.store import Sealed
from redline.tables import APPEND_ONLY

N = 20


def sealed(i: int) -> Sealed:
    salt, commitment = commit({"text": f"request {i}"})
    entry = LedgerEntry(time="2025-01-01T00:00:00Z", deployment="d1", principal=f"p{i}",
                        commitment=commitment, decision="deny")  # fmt: skip
    return Sealed(entry, {"text": f"request {i}"}, salt)


class Attacker:
    """Raw SQL on the ledger's database, the append-only triggers disabled first."""

    def __init__(self, db: str) -> None:
        self.pg = db.startswith("postgresql")
        self.conn: Any = psycopg.connect(conninfo(db), autocommit=True) if self.pg else (
            sqlite3.connect(db, isolation_level=None))  # fmt: skip
        for t in APPEND_ONLY:
            if self.pg:
                self.conn.execute(f"ALTER TABLE {t} DISABLE TRIGGER USER")
            else:
                self.conn.execute(f"DROP TRIGGER {t}_no_update")
                self.conn.execute(f"DROP TRIGGER {t}_no_delete")

    def sql(self, sql: str, *args: Any) -> list[Any]:
        if self.pg:
            sql = sql.replace("?", "%s")
        cur = self.conn.execute(sql, args)
        return list(cur.fetchall()) if cur.description else []

    def body(self, index: int) -> bytes:
        return bytes(self.sql("SELECT body FROM ledger_entries WHERE idx = ?", index)[0][0])


@pytest.fixture(params=["sqlite", "postgres"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Path, Signer]]:
    db: str = request.getfixturevalue("db_path" if request.param == "sqlite" else "postgres_url")
    signer = Signer.generate("redline.test/ledger")
    pub = tmp_path / "ledger.pub"
    pub.write_text(signer.verifier().text())
    store = open_ledger(db)
    checkpointer = Checkpointer(store, signer, 0)
    store.append_many([sealed(i) for i in range(N // 2)])
    checkpointer.issue()
    store.append_many([sealed(i) for i in range(N // 2, N)])
    checkpointer.issue()
    store.close()
    yield db, pub, signer


def verify(db: str, pub: Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["ledger", "verify", "--db", db, "--key", str(pub)])
    return result.exit_code, " ".join(result.output.split())


def test_untouched_log_verifies(ledger: tuple[str, Path, Signer]) -> None:
    db, pub, _ = ledger
    code, out = verify(db, pub)
    assert code == 0, out
    assert f"verified {N} entries" in out and "2 checkpoints" in out


def test_one_changed_byte_is_named(ledger: tuple[str, Path, Signer]) -> None:
    db, pub, _ = ledger
    evil = Attacker(db)
    body = evil.body(7)
    evil.sql("UPDATE ledger_entries SET body = ? WHERE idx = 7", body.replace(b"deny", b"denY"))
    code, out = verify(db, pub)
    assert code == 1
    assert "entry 7 hashes to" in out and "the entry was altered" in out


def test_changed_entry_with_its_leaf_hash_is_caught_by_the_checkpoint(
    ledger: tuple[str, Path, Signer],
) -> None:
    db, pub, _ = ledger
    evil = Attacker(db)
    body = evil.body(3).replace(b"deny", b"allow")
    evil.sql("UPDATE ledger_entries SET body = ? WHERE idx = 3", body)
    evil.sql("UPDATE ledger_nodes SET hash = ? WHERE id = 3", merkle.leaf_hash(body))
    code, out = verify(db, pub)
    assert code == 1
    assert "checkpoint #1 signs root" in out and "an entry in [0, 10) was altered" in out


def test_a_deleted_entry_is_named(ledger: tuple[str, Path, Signer]) -> None:
    db, pub, _ = ledger
    Attacker(db).sql("DELETE FROM ledger_entries WHERE idx = 5")
    code, out = verify(db, pub)
    assert code == 1
    assert "entry 5 is missing (the next stored entry is 6)" in out


def test_swapped_entries_are_named(ledger: tuple[str, Path, Signer]) -> None:
    db, pub, _ = ledger
    evil = Attacker(db)
    b3, b8 = evil.body(3), evil.body(8)
    evil.sql("UPDATE ledger_entries SET body = ? WHERE idx = 3", b8)
    evil.sql("UPDATE ledger_entries SET body = ? WHERE idx = 8", b3)
    code, out = verify(db, pub)
    assert code == 1
    assert "entry 3 carries sequence number 8" in out


def test_a_truncated_log_is_caught(ledger: tuple[str, Path, Signer]) -> None:
    db, pub, _ = ledger
    Attacker(db).sql("DELETE FROM ledger_entries WHERE idx >= 12")
    code, out = verify(db, pub)
    assert code == 1
    assert "entry 12 is missing" in out and "truncated" in out


def test_checkpoints_resigned_with_another_key_are_caught(
    ledger: tuple[str, Path, Signer],
) -> None:
    db, pub, signer = ledger
    evil = Attacker(db)
    forger = Signer.generate(signer.name)  # same name, the attacker's own key
    for cid, note in evil.sql("SELECT id, note FROM ledger_checkpoints"):
        body = note.split("\n\n")[0] + "\n"
        evil.sql("UPDATE ledger_checkpoints SET note = ? WHERE id = ?", sign(body, forger), cid)
    code, out = verify(db, pub)
    assert code == 1
    assert "checkpoint #1: no signature by key redline.test/ledger" in out


def test_a_dropped_checkpoint_only_loses_coverage(ledger: tuple[str, Path, Signer]) -> None:
    # the earlier checkpoint still binds the first half; the rest is reported unsigned
    db, pub, _ = ledger
    evil = Attacker(db)
    evil.sql("DELETE FROM ledger_checkpoints WHERE size = ?", N)
    code, out = verify(db, pub)
    assert code == 0, out  # dropping the latest checkpoint only loses coverage
    assert "not yet covered by a signed checkpoint" in out
