"""`redline check`, run as a user runs it: a real process, files in, JSON lines out."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REDLINE = [sys.executable, "-m", "redline.cli.main"]

LINES = [
    {"id": "t1", "text": "fire for effect on grid 38SMB4484"},
    {
        "id": "t2",
        "messages": [
            {"role": "system", "content": "You help the S4 shop."},
            {"role": "user", "content": "Draft the convoy fuel plan."},
        ],
    },
    {"id": "t3", "tool_call": {"name": "engage_target", "arguments": {"grid": "38SMB4484"}}},
    {"id": "t4", "text": "face-match everyone on the city's cameras against the voter roll"},
    {"id": "t5", "text": "find where this person lives", "context": {"authority_ref": "FISA-7"}},
]


def run(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*REDLINE, *args, "--db", str(tmp_path / "l.db"), "--classifier", "rules"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_jsonl_answers_every_line_in_order(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in LINES * 60) + "\n")
    proc = run(["check", "--policy", "provider-redlines", "--jsonl", str(path)], tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["id"] for r in rows] == [x["id"] for x in LINES] * 60
    first = {r["id"]: r for r in rows[:5]}
    assert first["t1"]["decision"] == "hold"
    assert first["t2"]["decision"] == "allow"
    assert first["t3"]["decision"] == "hold"
    assert first["t4"]["decision"] == "deny"
    assert first["t5"]["release"]["roles"] == ["approver"]  # authority given, approval missing
    assert set(first["t1"]) >= {"id", "decision", "categories", "decided_by", "release"}
    assert first["t4"]["decided_by"][0] == {
        "policy": "provider-redlines",
        "rule": "PR-2.1-mass-surveillance",
        "effect": "deny",
        "reason": first["t4"]["decided_by"][0]["reason"],
        "category": "mass_surveillance",
    }
    assert "deciding" in proc.stderr  # the progress bar is on standard error


def test_invalid_lines_keep_their_place_and_fail_the_run(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text(
        '{"id": 1, "text": "hello"}\n{not json\n{"id": 3, "text": 5}\n'
        '{"id": 4, "text": "hi", "policy": "dodd-3000-09"}\n'
    )
    proc = run(["check", "--jsonl", str(path)], tmp_path)
    assert proc.returncode == 1
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert rows[0]["decision"] == "allow"
    assert rows[1]["error"]["code"] == "invalid_json" and rows[1]["line"] == 2
    assert rows[2]["error"]["code"] == "invalid_request" and rows[2]["id"] == 3
    # a request cannot choose its own policy
    assert "policy" in rows[3]["error"]["message"] and rows[3]["id"] == 4


def test_explained_text(tmp_path: Path) -> None:
    proc = run(
        [
            "check",
            "engage the target at grid 38SMB4484",
            "--policy",
            "provider-redlines,dodd-3000-09",
        ],
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "HOLD" in out
    assert "PR-3.1-use-of-force" in out and "DODD-4.a-human-judgment" in out
    assert "role 'commander'" in out


def test_unknown_policy_is_a_clear_error(tmp_path: Path) -> None:
    proc = run(["check", "hello", "--policy", "no-such-pack"], tmp_path)
    assert proc.returncode == 2
    assert "unknown policy pack 'no-such-pack'" in proc.stderr
