"""MCP gateway configuration: [mcp_servers.NAME], its binding to deployments, the shipped
examples (the config file and the example tool server)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from mcp import Client
from pydantic import ValidationError

from redline.approvals.token import public_pem
from redline.effector import Effector
from redline.errors import InputError, UnknownPolicyError
from redline.gateway.app import create_app
from redline.settings import DeploymentConfig, McpServerConfig, Settings

ROOT = Path(__file__).resolve().parents[2]


def test_the_example_config_configures_a_tool_server() -> None:
    settings = Settings.from_file(ROOT / "examples" / "redline.toml")
    fires = settings.mcp_servers["fires"]
    assert fires.command == "python" and fires.packs == ["provider-redlines"]
    assert settings.mcp_hold_wait_s == 0


@pytest.mark.parametrize(
    "config",
    [{}, {"command": "python", "url": "http://127.0.0.1:9/mcp"}, {"url": "x", "timeout_s": 0}],
)
def test_a_server_is_either_a_command_or_a_url(config: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        McpServerConfig.model_validate(config)


def settings(tmp_path: Path, **kw: Any) -> Settings:
    return Settings(db=str(tmp_path / "r.db"), classifier="rules",
                    approval_keys_dir=tmp_path / "keys", **kw)  # fmt: skip


def test_a_deployment_naming_an_unknown_server_fails_at_start(tmp_path: Path) -> None:
    deployments = {"default": DeploymentConfig(mcp_servers=["nowhere"])}
    with pytest.raises(InputError, match="unknown MCP servers"):
        create_app(settings(tmp_path, deployments=deployments))


def test_a_server_naming_an_unknown_pack_fails_at_start(tmp_path: Path) -> None:
    servers = {"s": McpServerConfig(url="http://127.0.0.1:9/mcp", packs=["no-such-pack"])}
    with pytest.raises(UnknownPolicyError):
        create_app(settings(tmp_path, mcp_servers=servers))


def test_the_example_tool_server_refuses_engage_target_without_a_token() -> None:
    spec = importlib.util.spec_from_file_location("example", ROOT / "examples/mcp_tool_server.py")
    assert spec is not None and spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    Effector(public_pem(Ed25519PrivateKey.generate().public_key())).protect(
        example.server, "engage_target"
    )

    async def go() -> tuple[types.CallToolResult, types.CallToolResult]:
        async with Client(example.server) as client:
            weather = await client.call_tool("get_weather", {"city": "Oslo"})
            engage = await client.call_tool("engage_target", {"target_id": "T", "weapon": "w"})
            return weather, engage

    weather, engage = anyio.run(go)
    assert not weather.is_error
    assert engage.is_error and "needs Redline's action token" in str(engage.content)
