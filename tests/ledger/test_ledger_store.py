"""The ledger stores, SQLite and PostgreSQL alike: durable appends, gapless indexes under
concurrency, proofs from the stored nodes, content kept apart and sealed."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator

import psycopg
import pytest

from redline.errors import InputError, StoreError, VerificationError
from redline.ledger import merkle
from redline.ledger.content import new_content_key
from redline.ledger.entry import LedgerEntry, commit
from redline.ledger.merkle import MemoryTree
from redline.ledger.open import open_ledger
from redline.ledger.postgres import conninfo
from redline.ledger.store import LedgerStore, Sealed


def sealed(i: int, deployment: str = "d1") -> Sealed:
    content = {"text": f"request {i}"}
    salt, commitment = commit(content)
    entry = LedgerEntry(time="2025-01-01T00:00:00Z", deployment=deployment, principal=f"p{i}",
                        commitment=commitment, subject_hash=f"{i:x}", decision="allow")  # fmt: skip
    return Sealed(entry, content, salt)


@pytest.fixture(params=["sqlite", "postgres"])
def ledger_db(request: pytest.FixtureRequest) -> str:
    name = "db_path" if request.param == "sqlite" else "postgres_url"
    db: str = request.getfixturevalue(name)
    return db


@pytest.fixture
def store(ledger_db: str) -> Iterator[LedgerStore]:
    s = open_ledger(ledger_db)
    yield s
    s.close()


def test_append_numbers_entries_and_keeps_content_apart(store: LedgerStore) -> None:
    assert store.append_many([sealed(i) for i in range(3)]) == [0, 1, 2]
    assert store.append_many([]) == []
    assert store.append_many([sealed(3)]) == [3]
    assert store.size() == 4
    e = store.entry(2)
    assert e.seq == 2 and e.principal == "p2"
    assert b"request 2" not in store.entry_bytes(2)  # content never enters the log
    _, content = store.reveal(2)
    assert content == {"text": "request 2"}
    assert merkle.leaf_hash(store.entry_bytes(2)) == store.leaf_hash(2)


def test_proofs_match_a_tree_built_in_memory(store: LedgerStore) -> None:
    for chunk in range(5):
        store.append_many([sealed(chunk * 7 + i) for i in range(7)])
    tree = MemoryTree(merkle.leaf_hash(store.entry_bytes(i)) for i in range(35))
    for size in (1, 2, 7, 8, 13, 32, 35):
        assert store.root(size) == tree.root(size)
        for index in {0, size // 2, size - 1}:
            proof = store.inclusion_proof(index, size)
            assert proof == merkle.inclusion_proof(tree.get, index, size)
            merkle.verify_inclusion(tree.get(0, index), index, size, proof, tree.root(size))
    proof = store.consistency_proof(13, 35)
    merkle.verify_consistency(13, 35, proof, tree.root(13), tree.root(35))
    with pytest.raises(InputError):
        store.inclusion_proof(3, 36)
    with pytest.raises(InputError):
        store.consistency_proof(20, 10)


def test_concurrent_appends_are_gapless(store: LedgerStore) -> None:
    got: list[int] = []
    lock = threading.Lock()

    def worker(w: int) -> None:
        for j in range(15):
            idx = store.append_many([sealed(w * 100 + j), sealed(w * 100 + j + 50)])
            with lock:
                got.extend(idx)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == list(range(240))
    tree = MemoryTree(merkle.leaf_hash(store.entry_bytes(i)) for i in range(240))
    assert store.tree_head() == (240, tree.root())


def test_two_stores_on_one_database_share_one_log(ledger_db: str) -> None:
    # what several workers, or `redline check` beside a running server, see: each writer
    # continues the tree as it stands under the write lock, interleaved in any order
    a = open_ledger(ledger_db)
    a.append_many([sealed(i) for i in range(5)])
    b = open_ledger(ledger_db)
    assert a.append_many([sealed(5)]) == [5]
    assert b.append_many([sealed(6)]) == [6]
    assert a.append_many([sealed(7), sealed(8)]) == [7, 8]
    tree = MemoryTree(merkle.leaf_hash(b.entry_bytes(i)) for i in range(9))
    assert a.root(9) == b.root(9) == tree.root()
    a.close()
    b.close()


def test_regression_check_beside_a_running_server_breaks_no_append(db_path: str) -> None:
    """Incident: `redline check` appended to the server's ./redline.db; the server's writer,
    trusting its in-memory frontier, then failed every append (fail closed, but down)."""
    server = open_ledger(db_path)
    server.append_many([sealed(0)])
    check = open_ledger(db_path)
    check.append_many([sealed(1), sealed(2)])
    check.close()
    assert server.append_many([sealed(3)]) == [3]
    tree = MemoryTree(merkle.leaf_hash(server.entry_bytes(i)) for i in range(4))
    assert server.root(4) == tree.root()
    server.close()


def test_the_log_refuses_updates_and_deletes(store: LedgerStore, ledger_db: str) -> None:
    store.append_many([sealed(0)])
    for sql in ("UPDATE ledger_entries SET body = body", "DELETE FROM ledger_entries",
                "DELETE FROM ledger_nodes"):  # fmt: skip
        if ledger_db.startswith("postgresql"):
            with (
                pytest.raises(psycopg.Error, match="append-only"),
                psycopg.connect(conninfo(ledger_db)) as db,
            ):
                db.execute(sql)
        else:
            db = sqlite3.connect(ledger_db)
            with pytest.raises(sqlite3.Error, match="append-only"):
                db.execute(sql)
            db.close()
    assert store.size() == 1


def test_content_sealed_with_the_deployer_key(ledger_db: str) -> None:
    import base64

    key = base64.b64decode(new_content_key())
    s = open_ledger(ledger_db, content_key=key)
    s.append_many([sealed(0)])
    assert s.reveal(0)[1] == {"text": "request 0"}
    raw = s._content(0)
    assert raw is not None and b"request 0" not in raw
    s.close()
    wrong = open_ledger(ledger_db, content_key=bytes(32))
    with pytest.raises(VerificationError, match="does not decrypt"):
        wrong.reveal(0)
    wrong.close()


def test_a_failed_write_raises_store_error(db_path: str) -> None:
    s = open_ledger(db_path)
    s.append_many([sealed(0)])
    db = sqlite3.connect(db_path)
    db.execute("DROP TABLE ledger_content")  # the next batch cannot commit
    db.close()
    with pytest.raises(StoreError):
        s.append_many([sealed(1)])
    assert s.size() == 1
    s.close()


KILLED_AFTER_APPEND = """
import os, signal, sys
from redline.ledger.entry import LedgerEntry, commit
from redline.ledger.open import open_ledger
from redline.ledger.store import Sealed
salt, commitment = commit({"text": "forwarded"})
entry = LedgerEntry(time="2025-01-01T00:00:00Z", deployment="d1", principal="p",
                    commitment=commitment, subject_hash="f", decision="allow")
store = open_ledger(sys.argv[1], content_key=bytes(32))
store.append_many([Sealed(entry, {"text": "forwarded"}, salt)], durable=False)
os.kill(os.getpid(), signal.SIGKILL)  # no close, no sync: a crash right after forwarding
"""


def test_an_append_not_yet_synced_survives_a_crash_of_its_process(ledger_db: str) -> None:
    # The gateway forwards an allowed request once its entry is committed but before the
    # disk has it; a crash of the server then must not lose the entry.
    import subprocess
    import sys

    before = open_ledger(ledger_db, content_key=bytes(32))
    start = before.size()
    before.close()
    child = subprocess.run([sys.executable, "-c", KILLED_AFTER_APPEND, ledger_db], check=False)
    assert child.returncode == -9
    after = open_ledger(ledger_db, content_key=bytes(32))
    assert after.size() == start + 1
    assert after.entry(start).decision == "allow"
    assert after.reveal(start)[1] == {"text": "forwarded"}
    after.close()


def test_deferred_and_durable_appends_share_one_log(store: LedgerStore) -> None:
    assert store.append_many([sealed(0)], durable=False) == [0]
    assert store.append_many([sealed(1)]) == [1]
    assert store.append_many([sealed(2)], durable=False) == [2]
    store.sync()
    tree = MemoryTree(merkle.leaf_hash(store.entry_bytes(i)) for i in range(3))
    assert store.root(3) == tree.root()


def test_a_deferred_append_leaves_later_appends_durable(db_path: str) -> None:
    # The writer's connection goes back to synchronous=FULL for the next durable batch.
    s = open_ledger(db_path)
    s.append_many([sealed(0)], durable=False)
    s.append_many([sealed(1)])
    (mode,) = s._writer.call(lambda: s._db.execute("PRAGMA synchronous").fetchone())  # type: ignore[attr-defined]
    assert mode == 2  # FULL
    s.close()


def test_sync_fails_loudly(db_path: str) -> None:
    s = open_ledger(db_path)
    s.append_many([sealed(0)], durable=False)
    s.close()
    with pytest.raises(StoreError, match="closed"):
        s.sync()
