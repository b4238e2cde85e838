"""What reaches the ledger and when (issue 18.12): a checkpoint signed at shutdown, and
`redline check`, which records nothing unless asked (`--record`).

(A forwarded request whose upstream failed is recorded with its outcome:
tests/gateway/test_gateway_failures.py::test_a_forwarded_request_is_on_the_ledger_with_its_outcome_when_the_upstream_fails.)
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from redline.ledger.checkpoint import open_checkpoint
from redline.ledger.keys import KeyFiles, create_keys
from redline.ledger.note import Verifier
from redline.ledger.sqlite import SqliteStore
from tests.support.server import running

REDLINE = [sys.executable, "-m", "redline.cli.main"]


def test_a_checkpoint_is_signed_at_shutdown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_keys(tmp_path / "ledger-keys", content=False)
    files = KeyFiles.in_dir(tmp_path / "ledger-keys")
    monkeypatch.setenv("REDLINE_LEDGER_KEY", str(files.signer))
    monkeypatch.setenv("REDLINE_CHECKPOINT_INTERVAL", "3600")  # no tick during the test
    with running(tmp_path) as srv:
        assert srv.post("a-req", "/v1/decide", {"text": "Draft the convoy fuel plan."}).is_success
        srv.hold()
        store = srv.app.state.services.store
        assert store.latest_checkpoint() is None  # nothing signed yet
    store = SqliteStore(tmp_path / "redline.db")
    try:
        note = store.latest_checkpoint()
        assert note is not None, "no checkpoint was signed at shutdown"
        verifier = Verifier.parse(files.verifier.read_text())
        assert open_checkpoint(note, verifier).size == store.size() >= 3
    finally:
        store.close()


def _check(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*REDLINE, "check", "fire for effect on grid 38SMB4484", "--json", "--classifier", "rules",
         "--db", str(tmp_path / "check.db"), *args],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path),
             "REDLINE_KEYS_DIR": str(tmp_path / "keys")},
    )  # fmt: skip


def test_check_records_nothing_by_default(tmp_path: Path) -> None:
    proc = _check(tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["decision"] == "hold"
    assert json.loads(proc.stdout)["ledger_index"] is None
    assert "not recorded" in proc.stderr
    assert not (tmp_path / "check.db").exists() and not (tmp_path / "redline.db").exists()


def test_check_with_record_appends_to_the_named_ledger(tmp_path: Path) -> None:
    proc = _check(tmp_path, "--record")
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)
    assert answer["ledger_index"] == 0 and "recording" in proc.stderr
    store = SqliteStore(tmp_path / "check.db")
    try:
        entry = store.entry(0)
        assert (entry.decision, entry.principal) == ("hold", "anonymous")
        assert entry.subject_hash == answer["subject_hash"]
    finally:
        store.close()
    assert not (tmp_path / "redline.db").exists()


def test_check_record_is_documented() -> None:
    proc = subprocess.run(
        [*REDLINE, "check", "--help"], capture_output=True, text=True, check=False
    )
    assert "--record" in proc.stdout and "--no-record" in proc.stdout
    assert "anonymous" in proc.stdout
