"""The README's commands, run as written against a real `redline serve` (issue 18, item 10):
the start banner's `curl` hint works when pasted (with the key it prints, and with
`$REDLINE_API_KEY` once the keys exist), and the walk-through (hold, approve, resume, fetch
the public key, verify the token) runs step by step to a valid token."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.loopback import free_port

ROOT = next(p for p in Path(__file__).resolve().parents if (p / "README.md").exists())
REDLINE = str(Path(sys.executable).parent / "redline")


@contextmanager
def redline_serve(cwd: Path) -> Iterator[tuple[str, str]]:
    """`redline serve` in `cwd` as a user starts it; yields its URL and its banner."""
    port = free_port()
    env = {**os.environ, "REDLINE_CLASSIFIER": "rules", "COLUMNS": "250"}
    for name in ("REDLINE_DB", "REDLINE_KEYS_DIR", "REDLINE_LOCAL_KEYS", "REDLINE_LEDGER_KEY"):
        env.pop(name, None)
    banner = cwd / f"banner-{port}.txt"
    with banner.open("w") as err:
        proc = subprocess.Popen(
            [REDLINE, "serve", "--port", str(port)], cwd=cwd, env=env, stderr=err
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, banner.read_text()
            time.sleep(0.2)
        yield url, banner.read_text()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def bash(script: str, cwd: Path, **env: str) -> str:
    done = subprocess.run(
        ["bash", "-c", script], cwd=cwd, env={**os.environ, **env},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, (script, done.stdout, done.stderr)
    return done.stdout


def banner_curl(banner: str) -> str:
    return next(line.strip() for line in banner.splitlines() if line.strip().startswith("curl"))


def walkthrough() -> list[str]:
    """The walk-through's shell block as commands (continuation lines joined)."""
    text = (ROOT / "README.md").read_text("utf-8")
    section = text[text.index("## Walk-through") :]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None
    commands = block.group(1).replace("\\\n", " ").splitlines()
    return [c for c in commands if c.strip() and not c.lstrip().startswith("#")]


def test_the_banner_hint_works_when_pasted(tmp_path: Path) -> None:
    with redline_serve(tmp_path) as (_, banner):
        # First start: the hint carries the requester's key it just made.
        answer = json.loads(bash(banner_curl(banner), tmp_path))
        assert answer["decision"] == "hold", answer
    keys = json.loads((tmp_path / "var" / "local-keys.json").read_text())
    with redline_serve(tmp_path) as (_, banner):
        hint = banner_curl(banner)
        assert "$REDLINE_API_KEY" in hint and "'authorization: Bearer $REDLINE_API_KEY'" not in hint
        answer = json.loads(bash(hint, tmp_path, REDLINE_API_KEY=keys["demo-requester"]))
        assert answer["decision"] == "hold", answer


def test_the_walkthrough_runs_as_written(tmp_path: Path) -> None:
    with redline_serve(tmp_path) as (url, _):
        state = ""  # the variables the block has set so far
        approval_id = ""
        for command in walkthrough():
            command = command.replace("http://127.0.0.1:8080", url)
            command = command.replace(".venv/bin/redline", REDLINE)
            command = command.replace("ap_…", approval_id)
            out = bash(state + command, tmp_path)
            if re.match(r"^(export )?[A-Z_]+=", command):
                state += command + "\n"
            elif "/v1/decide" in command and "Redline-Approval-Id" not in command:
                held = json.loads(out)
                assert held["decision"] == "hold", held
                approval_id = held["approval_id"]
            elif "Redline-Approval-Id" in command:
                resumed = json.loads(out)
                assert resumed["decision"] == "allow", resumed
                state += f"TOKEN={resumed['action_token']}\n"
        assert approval_id and "TOKEN=" in state
        pem = (tmp_path / "approval.pub.pem").read_text()
        assert pem.startswith("-----BEGIN PUBLIC KEY-----"), pem
        assert (tmp_path / "spent.txt").read_text().split() == [approval_id]
