"""Rough edges of the CLI and the verifiers (issue 18, item 11): `token verify` takes a tool
call as the SDK gives it and a held chat request as the approval shows it, `approvals list`
keeps whole ids on an 80-column terminal, and the bundle verifier names the first problem."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from typer.testing import CliRunner

from redline.cli.main import app
from redline.ledger.entry import LedgerEntry
from redline.ledger.open import open_ledger
from redline.ledger.store import Sealed
from tests.support.fake_upstream import Answer, GatewayEnv, gateway

runner = CliRunner()
FORCE = "Fire for effect on grid 38SMB4484 now."


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayEnv]:
    with gateway(tmp_path_factory.mktemp("gw")) as e:
        yield e


def _ask(env: GatewayEnv, prompt: str, **kw: Any) -> Any:
    messages = [{"role": "user", "content": prompt}]
    return env.client().chat.completions.with_raw_response.create(
        model="alpha-1", messages=messages, **kw
    )


def _verify(token: str, action: Any, tmp: Path, env: GatewayEnv) -> Any:
    (tmp / "action.json").write_text(json.dumps(action))
    pub = tmp / "approval.pub.pem"
    pub.write_text(env.app.state.services.approvals.public_key_pem())
    args = ["token", "verify", token, "--action", str(tmp / "action.json"), "--key", str(pub)]
    return runner.invoke(app, args)


def test_token_verify_takes_the_sdk_tool_call_as_it_comes(env: GatewayEnv, tmp_path: Path) -> None:
    prompt = "Plan the next step for the battery, then act."
    env.fake.answers[prompt] = Answer(
        text=None, tool_calls=[("engage_target", {"target_id": "T-17", "grid": "38SMB4484"})]
    )
    held = _ask(env, prompt).parse()
    approval_id = held.model_extra["redline"]["output"][0]["approval_id"]
    env.approve(approval_id, "commander")
    again = _ask(env, prompt, extra_headers={"Redline-Approval-Id": approval_id}).parse()
    call = again.choices[0].message.tool_calls[0]
    token = again.model_extra["redline"]["output"][0]["action_token"]
    assert isinstance(call.function.arguments, str)  # the SDK's arguments: a JSON string
    # 1. The SDK's tool-call object, and its function part, as they come.
    for action in (call.model_dump(), call.function.model_dump()):
        result = _verify(token, action, tmp_path, env)
        assert result.exit_code == 0, result.output
    # 2. Other arguments, in the same string form, are refused.
    other = {"name": "engage_target", "arguments": '{"target_id": "T-18", "grid": "38SMB4484"}'}
    result = _verify(token, other, tmp_path, env)
    assert result.exit_code == 1 and "arguments differ" in result.output


def test_token_verify_for_a_chat_hold_takes_the_approval_content(
    env: GatewayEnv, tmp_path: Path
) -> None:
    """The documented `--action` of a held chat request: the approval's `content`."""
    with pytest.raises(openai.ConflictError) as held:  # a hold is a 409
        _ask(env, FORCE)
    approval_id = held.value.body["details"]["approval_id"]  # type: ignore[index]
    env.approve(approval_id, "commander")
    raw = _ask(env, FORCE, extra_headers={"Redline-Approval-Id": approval_id})
    token = raw.headers["Redline-Action-Token"]
    shown = runner.invoke(
        app,
        ["approvals", "show", approval_id, "--json", "--url", env.url],
        env={"REDLINE_API_KEY": env.keys["requester"]},
    )
    assert shown.exit_code == 0, shown.output
    content = json.loads(shown.stdout)["content"]
    assert content == {"messages": [{"role": "user", "content": FORCE}]}
    result = _verify(token, content, tmp_path, env)
    assert result.exit_code == 0, result.output
    content["messages"][0]["content"] = FORCE.replace("38SMB4484", "38SMB4485")
    assert _verify(token, content, tmp_path, env).exit_code == 1


def test_approvals_show_prints_the_model_and_parameters_bound(env: GatewayEnv) -> None:
    with pytest.raises(openai.ConflictError) as held:
        _ask(env, FORCE, temperature=0.7)
    approval_id = held.value.body["details"]["approval_id"]  # type: ignore[index]
    shown = runner.invoke(
        app,
        ["approvals", "show", approval_id, "--url", env.url],
        env={"REDLINE_API_KEY": env.keys["commander"], "COLUMNS": "200"},
    )
    assert shown.exit_code == 0, shown.output
    bound = shown.stdout.split("forwarded with (bound too):", 1)[1]
    assert json.loads(bound) == {"model": "alpha-1", "temperature": 0.7}


def test_approvals_list_keeps_whole_ids_at_80_columns(env: GatewayEnv) -> None:
    prompt = "Plan the battery's fire mission for the morning, then act."
    env.fake.answers[prompt] = Answer(
        text=None, tool_calls=[("engage_target", {"target_id": "T-21", "grid": "38SMB4490"})]
    )
    held = _ask(env, prompt).parse()
    approval_id = held.model_extra["redline"]["output"][0]["approval_id"]
    shell = {**os.environ, "COLUMNS": "80", "REDLINE_API_KEY": env.keys["commander"]}
    listed = subprocess.run(
        [sys.executable, "-c", "from redline.cli.main import app; app()",
         "approvals", "list", "--url", env.url],
        env=shell, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    assert max(map(len, listed.stdout.splitlines())) <= 80
    assert approval_id in listed.stdout, listed.stdout


def test_bundle_verifier_names_the_first_problem(tmp_path: Path) -> None:
    db = str(tmp_path / "l.db")
    keys = tmp_path / "keys"
    assert runner.invoke(app, ["keys", "init", "--dir", str(keys)]).exit_code == 0
    store = open_ledger(db)
    entry = LedgerEntry(time="2025-01-01T00:00:00Z", deployment="d1", principal="p")
    store.append_many([Sealed(entry)] * 20)
    store.close()
    bundle = tmp_path / "bundle"
    key = str(keys / "ledger.key")
    exported = runner.invoke(
        app, ["ledger", "export", str(bundle), "--db", db, "--signing-key", key]
    )
    assert exported.exit_code == 0, exported.output
    lines = (bundle / "entries.jsonl").read_bytes().splitlines(keepends=True)
    del lines[6]  # entry 6 deleted
    (bundle / "entries.jsonl").write_bytes(b"".join(lines))
    verify = ["ledger", "verify", "--bundle", str(bundle), "--key", str(keys / "ledger.pub")]
    bad = runner.invoke(app, verify)
    assert bad.exit_code == 1
    said = " ".join(bad.output.split())
    assert "entry 6 carries sequence number 7: entries were deleted" in said, said
    assert "entry 19" not in said
