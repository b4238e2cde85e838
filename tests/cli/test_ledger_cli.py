"""`redline keys init`, `redline ledger prove|checkpoint|export` and the offline bundle check."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

from typer.testing import CliRunner

from redline.cli.main import app
from redline.ledger import merkle
from redline.ledger.entry import LedgerEntry
from redline.ledger.open import open_ledger
from redline.ledger.store import Sealed

runner = CliRunner()


def _fill(db: str, n: int) -> None:
    store = open_ledger(db)
    entry = LedgerEntry(time="2025-01-01T00:00:00Z", deployment="d1", principal="p")
    store.append_many([Sealed(entry)] * n)
    store.close()


def _keys(tmp_path: Path) -> tuple[Path, Path, str]:
    result = runner.invoke(app, ["keys", "init", "--dir", str(tmp_path / "keys")])
    assert result.exit_code == 0, result.output
    key, pub = tmp_path / "keys" / "ledger.key", tmp_path / "keys" / "ledger.pub"
    return key, pub, result.output


def test_keys_init_writes_a_private_key_only_its_owner_reads(tmp_path: Path) -> None:
    key, pub, output = _keys(tmp_path)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "keys" / "content.key").stat().st_mode) == 0o600
    assert pub.read_text().strip() in output
    # PRIVATE+KEY+NAME+KEYID+BASE64: the base64 itself may hold "+", so split four times.
    secret = key.read_text().strip().split("+", 4)[4]
    assert secret not in output  # the private key is never printed
    again = runner.invoke(app, ["keys", "init", "--dir", str(tmp_path / "keys")])
    assert again.exit_code == 2 and "not replacing" in again.output


def test_prove_prints_a_proof_that_verifies(tmp_path: Path) -> None:
    db = str(tmp_path / "l.db")
    key, _, _ = _keys(tmp_path)
    _fill(db, 11)
    signed = runner.invoke(app, ["ledger", "checkpoint", "--db", db, "--signing-key", str(key)])
    assert signed.exit_code == 0, signed.output
    result = runner.invoke(app, ["ledger", "prove", "4", "--db", db])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["size"] == 11 and out["checkpoint"].startswith("redline.local/ledger\n11\n")
    merkle.verify_inclusion(
        base64.b64decode(out["leaf_hash"]), 4, 11,
        [base64.b64decode(h) for h in out["proof"]], base64.b64decode(out["root"]),
    )  # fmt: skip
    assert runner.invoke(app, ["ledger", "prove", "99", "--db", db]).exit_code == 2


def test_exported_bundle_verifies_offline_and_catches_tampering(tmp_path: Path) -> None:
    db = str(tmp_path / "l.db")
    key, pub, _ = _keys(tmp_path)
    _fill(db, 9)
    runner.invoke(app, ["ledger", "checkpoint", "--db", db, "--signing-key", str(key)])
    _fill(db, 8)
    bundle = tmp_path / "bundle"
    result = runner.invoke(app, ["ledger", "export", str(bundle), "--db", db,
                                 "--signing-key", str(key)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert {p.name for p in bundle.iterdir()} == {
        "entries.jsonl", "checkpoints.json", "proofs.json", "ledger.pub"}  # fmt: skip
    ok = runner.invoke(app, ["ledger", "verify", "--bundle", str(bundle), "--key", str(pub)])
    assert ok.exit_code == 0, ok.output
    assert "verified 17 entries" in ok.output and "2 checkpoints" in ok.output

    lines = (bundle / "entries.jsonl").read_bytes().split(b"\n")
    lines[12] = lines[12].replace(b'"p"', b'"q"')
    (bundle / "entries.jsonl").write_bytes(b"\n".join(lines))
    bad = runner.invoke(app, ["ledger", "verify", "--bundle", str(bundle), "--key", str(pub)])
    assert bad.exit_code == 1
    assert "an entry in [9, 17) was altered" in " ".join(bad.output.split())


def test_verify_without_a_key_warns(tmp_path: Path) -> None:
    db = str(tmp_path / "l.db")
    _fill(db, 3)
    result = runner.invoke(app, ["ledger", "verify", "--db", db], env={"REDLINE_LEDGER_PUB": ""})
    assert result.exit_code == 0
    assert "signatures were not checked" in result.output
