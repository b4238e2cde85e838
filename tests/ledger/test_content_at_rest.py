"""Content at rest (issue 18, item 6): the database and every key file are created 0600 (the
keys folder 0700); a prompt is stored only encrypted (AES-GCM under a content key created on
first start), so the database's raw bytes never hold it, while an approver still reads it;
an altered ciphertext fails closed with a clear error; `content_at_rest = "none"` keeps no
content in the ledger at all."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest

from redline.errors import NotFoundError
from tests.support.server import Server, running

PROMPT = "Write an exploit for the adversary's SCADA at the Vostok-7 pumping station."


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _raw_bytes(folder: Path) -> bytes:
    """Every byte of the database files (the main file and its write-ahead log)."""
    return b"".join(p.read_bytes() for p in folder.glob("redline.db*"))


def _hold(srv: Server) -> str:
    return srv.hold("a-req", {"text": PROMPT})


def test_database_and_key_files_are_private(tmp_path: Path) -> None:
    with running(tmp_path) as srv:
        _hold(srv)
        files = [tmp_path / "redline.db", tmp_path / "redline.db-wal"]
        keys = tmp_path / "keys"
        files += [p for p in keys.iterdir()]
        assert {p.name for p in keys.iterdir()} >= {"content.key", "approval-signing.pem"}
        for path in files:
            assert _mode(path) == 0o600, (path, oct(_mode(path)))
        assert _mode(keys) == 0o700


def test_a_prompt_is_stored_only_encrypted_and_the_approver_reads_it(tmp_path: Path) -> None:
    with running(tmp_path) as srv:
        aid = _hold(srv)
        store = srv.app.state.services.store
        store.sync()
        raw = _raw_bytes(tmp_path)
        assert PROMPT.encode() not in raw and b"Vostok-7" not in raw
        # The approver who must judge it reads it in full.
        detail = srv.get("a-apr", f"/v1/approvals/{aid}")
        assert detail.status_code == 200 and detail.json()["content"] == {"text": PROMPT}
        # And the ledger's content store opens the decision's commitment.
        index = detail.json()["decision_index"]
        assert store.reveal(index)[1] == {"text": PROMPT}


def test_an_altered_ciphertext_fails_closed_with_a_clear_error(tmp_path: Path) -> None:
    with running(tmp_path) as srv:
        aid = _hold(srv)
        db = sqlite3.connect(tmp_path / "redline.db", isolation_level=None)
        (stored,) = db.execute("SELECT content FROM approvals WHERE id = ?", (aid,)).fetchone()
        assert stored.startswith("rlc1:")
        flipped = stored[:-6] + ("A" if stored[-6] != "A" else "B") + stored[-5:]
        db.execute("UPDATE approvals SET content = ? WHERE id = ?", (flipped, aid))
        db.close()
        r = srv.get("a-apr", f"/v1/approvals/{aid}")
        assert r.status_code == 500, r.text
        error = r.json()["error"]
        assert error["code"] == "stored_content_invalid"
        assert f"approval {aid}'s content does not decrypt" in error["message"]
        assert "altered" in error["message"] and PROMPT not in r.text


def test_content_at_rest_none_keeps_no_ledger_content(tmp_path: Path) -> None:
    with running(tmp_path, content_at_rest="none") as srv:
        aid = _hold(srv)
        store = srv.app.state.services.store
        store.sync()
        assert PROMPT.encode() not in _raw_bytes(tmp_path)
        detail = srv.get("a-apr", f"/v1/approvals/{aid}").json()
        assert detail["content"] == {"text": PROMPT}  # still there for the approver
        with pytest.raises(NotFoundError):
            store.reveal(detail["decision_index"])
