"""A real `redline serve` killed with SIGKILL under load loses no answered decision, and the
ledger verifies after restart."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from typer.testing import CliRunner

from redline.cli.main import app
from redline.ledger.open import open_ledger
from tests.support.loopback import free_port

BIN = Path(sys.executable).parent / "redline"
TEXTS = ["fire for effect on grid 38SMB4484", "translate this village meeting",
         "face-match everyone on the city cameras", "explain DoDD 3000.09"]  # fmt: skip


def _start(tmp_path: Path, db: str, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "REDLINE_LOCAL_KEYS": str(tmp_path / "local-keys.json"),
           "REDLINE_KEYS_DIR": str(tmp_path / "akeys"),
           "REDLINE_LEDGER_KEY": str(tmp_path / "keys" / "ledger.key"),
           "REDLINE_CHECKPOINT_INTERVAL": "0.2"}  # fmt: skip
    proc = subprocess.Popen(
        [str(BIN), "serve", "--db", db, "--port", str(port), "--classifier", "rules"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("redline serve did not start")


def test_sigkill_under_load_loses_no_answered_decision(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["keys", "init", "--dir", str(tmp_path / "keys")]).exit_code == 0
    db = str(tmp_path / "ledger.db")
    port = free_port()
    proc = _start(tmp_path, db, port)
    keys = list(json.loads((tmp_path / "local-keys.json").read_text()).values())
    answered: dict[int, str] = {}
    lock = threading.Lock()
    stop = threading.Event()

    def load(worker: int) -> None:
        key = keys[worker % len(keys)]
        with httpx.Client(timeout=10) as client:
            i = 0
            while not stop.is_set():
                i += 1
                body = {"text": f"{TEXTS[i % len(TEXTS)]} #{worker}-{i}"}
                try:
                    r = client.post(f"http://127.0.0.1:{port}/v1/decide", json=body,
                                    headers={"authorization": f"Bearer {key}"})  # fmt: skip
                except httpx.HTTPError:
                    continue  # the server died mid-request: this one was never answered
                if r.status_code == 200 and r.json().get("ledger_index") is not None:
                    with lock:
                        answered[r.json()["ledger_index"]] = r.json()["subject_hash"]

    threads = [threading.Thread(target=load, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 20
    while len(answered) < 150 and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)  # mid-load: requests are in flight
    proc.wait()
    stop.set()
    for t in threads:
        t.join()
    assert len(answered) >= 150

    proc = _start(tmp_path, db, port)  # restart: recovery, then the log keeps growing
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    store = open_ledger(db)
    try:
        for index, subject_hash in answered.items():
            assert store.entry(index).subject_hash == subject_hash, index
        assert store.checkpoints(), "the background checkpointer signed nothing"
    finally:
        store.close()
    pub = tmp_path / "keys" / "ledger.pub"
    result = runner.invoke(app, ["ledger", "verify", "--db", db, "--key", str(pub)])
    assert result.exit_code == 0, result.output
