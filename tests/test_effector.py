"""redline.effector on its own: the checks a tool server runs, offline, against Redline's public
key, in both directions; and its middleware on an `mcp` SDK server, through the SDK's client."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from mcp import Client
from mcp.server.mcpserver import MCPServer

from redline.approvals.token import action_hash, public_pem, sign_action_token
from redline.effector import Effector, EffectorRefused

CALL = {"name": "engage_target", "arguments": {"target_id": "T-17", "weapon": "mortar"}}
KEY = Ed25519PrivateKey.generate()


def token(
    call: dict[str, Any] = CALL,
    *,
    key: Ed25519PrivateKey = KEY,
    approval_id: str = "ap_1",
    deployment: str = "default",
    not_after: int | None = None,
) -> str:
    payload = {
        "approval_id": approval_id, "action_hash": action_hash(call), "requester": "req",
        "deployment": deployment, "approvers": ["cmd"],
        "not_after": not_after if not_after is not None else int(time.time()) + 600,
    }  # fmt: skip
    return sign_action_token(payload, key)


def meta(tok: str) -> dict[str, Any]:
    return {"redline/action_token": tok}


@pytest.fixture
def effector(tmp_path: Path) -> Effector:
    pem = tmp_path / "redline.pub.pem"
    pem.write_bytes(public_pem(KEY.public_key()))
    return Effector(str(pem), spent=tmp_path / "spent")


def test_a_token_for_exactly_this_call_is_accepted_once(effector: Effector) -> None:
    tok = token(approval_id="ap_once")
    payload = effector.check("engage_target", CALL["arguments"], meta(tok))
    assert payload["approval_id"] == "ap_once"
    with pytest.raises(EffectorRefused, match="already used"):
        effector.check("engage_target", CALL["arguments"], meta(tok))


@pytest.mark.parametrize(
    ("name", "arguments", "tok", "why"),
    [
        ("engage_target", {"target_id": "T-18", "weapon": "mortar"}, token(), "arguments differ"),
        ("engage_target", {**CALL["arguments"], "extra": 1}, token(), "arguments differ"),
        ("fire_mission", CALL["arguments"], token(), "arguments differ"),
        ("engage_target", CALL["arguments"], token(key=Ed25519PrivateKey.generate()),
         "signature is invalid"),
        ("engage_target", CALL["arguments"], token(not_after=int(time.time()) - 1), "expired"),
        ("engage_target", CALL["arguments"], "not.a-token", "malformed"),
        ("engage_target", CALL["arguments"], "", "needs Redline's action token"),
    ],
)  # fmt: skip
def test_anything_else_is_refused(
    effector: Effector, name: str, arguments: dict[str, Any], tok: str, why: str
) -> None:
    with pytest.raises(EffectorRefused, match=why):
        effector.check(name, arguments, meta(tok))


def test_no_meta_at_all_is_refused(effector: Effector) -> None:
    with pytest.raises(EffectorRefused, match="got none"):
        effector.check("engage_target", CALL["arguments"], None)


def test_a_refused_token_is_not_spent(effector: Effector) -> None:
    tok = token(approval_id="ap_kept")
    with pytest.raises(EffectorRefused):
        effector.check("engage_target", {"target_id": "T-99", "weapon": "mortar"}, meta(tok))
    assert effector.check("engage_target", CALL["arguments"], meta(tok))["approval_id"] == "ap_kept"


def test_spent_tokens_survive_a_restart(tmp_path: Path) -> None:
    pem = public_pem(KEY.public_key())
    tok = token(approval_id="ap_restart")
    Effector(pem, spent=tmp_path / "spent").check("engage_target", CALL["arguments"], meta(tok))
    with pytest.raises(EffectorRefused, match="already used"):
        Effector(pem, spent=tmp_path / "spent").check("engage_target", CALL["arguments"], meta(tok))


def test_a_token_of_another_deployment_is_refused_when_deployments_are_named() -> None:
    strict = Effector(public_pem(KEY.public_key()), deployments=["ops"])
    with pytest.raises(EffectorRefused, match="deployment 'default'"):
        strict.check("engage_target", CALL["arguments"], meta(token()))
    ok = token(deployment="ops", approval_id="ap_ops")
    assert strict.check("engage_target", CALL["arguments"], meta(ok))["deployment"] == "ops"


def test_the_effector_needs_no_server_package() -> None:
    code = (
        "import sys, redline.effector; "
        "bad = [m for m in ('fastapi', 'sqlalchemy', 'redline.gateway', 'onnxruntime') "
        "if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)"
    )
    import subprocess

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_protect_guards_only_the_named_tools_of_an_sdk_server() -> None:
    ran: list[str] = []
    server: MCPServer = MCPServer("t")
    Effector(public_pem(KEY.public_key())).protect(server, "engage_target")

    @server.tool()
    def engage_target(target_id: str, weapon: str) -> str:
        ran.append(target_id)
        return "engaged"

    @server.tool()
    def get_weather(city: str) -> str:
        return "rain"

    async def go() -> list[types.CallToolResult]:
        async with Client(server) as client:
            return [
                await client.call_tool("get_weather", {"city": "Oslo"}),
                await client.call_tool("engage_target", CALL["arguments"]),
                await client.call_tool("engage_target", CALL["arguments"],
                                       meta=meta(token(approval_id="ap_sdk"))),  # type: ignore[arg-type]
            ]  # fmt: skip

    weather, bare, approved = anyio.run(go)
    assert not weather.is_error
    assert bare.is_error and "needs Redline's action token" in bare.content[0].text  # type: ignore[union-attr]
    assert not approved.is_error and ran == ["T-17"]


def test_protect_needs_tool_names() -> None:
    with pytest.raises(ValueError, match="name the tools"):
        Effector(public_pem(KEY.public_key())).protect(MCPServer("t"))
