"""MCP over stdio on both sides: a tool server Redline starts as a subprocess, and
`redline mcp-stdio` started as a subprocess by the `mcp` SDK's stdio client."""

from __future__ import annotations

import sys
from pathlib import Path

import mcp_types as types
from mcp import Client, StdioServerParameters
from sqlalchemy import create_engine
from typer.testing import CliRunner

from redline.approvals.token import load_or_create_signing_key
from redline.auth.store import PrincipalStore
from redline.cli.main import app as cli
from tests.support.mcp import ROOT, mcp_gateway, run, stdio_env, text, tool_server

ENGAGE = {"target_id": "T-17", "weapon": "mortar"}


def test_a_stdio_tool_server_behind_redline(tmp_path: Path) -> None:
    with mcp_gateway(tmp_path, stdio=True) as env:
        assert {"get_weather", "engage_target"} <= {t.name for t in env.listed()}
        weather = env.call("get_weather", {"city": "Tromsø"})
        assert not weather.is_error and "Weather in Tromsø" in text(weather)
        denied = env.call("search_people", {"filter": "*"})
        assert denied.is_error and "PR-2.1-mass-surveillance" in text(denied)
        held = env.call("engage_target", ENGAGE)
        approval_id = (held.meta or {})["redline/approval_id"]
        assert env.http("POST", f"/v1/approvals/{approval_id}/approve", "commander").is_success
        done = env.call("engage_target", ENGAGE, **{"redline/approval_id": approval_id})
        assert not done.is_error, text(done)
    assert env.log.names("received") == ["get_weather", "engage_target"]
    assert env.log.names("ran") == ["get_weather", "engage_target"]


def write_config(tmp: Path, url: str) -> Path:
    config = tmp / "redline.toml"
    config.write_text(
        f'db = "{tmp / "stdio.db"}"\n'
        'classifier = "rules"\n'
        f'approval_keys_dir = "{tmp / "keys"}"\n'
        "[deployments.default]\n"
        'packs = ["provider-redlines"]\n'
        "[mcp_servers.field]\n"
        f'url = "{url}"\n',
        "utf-8",
    )
    return config


def test_redline_mcp_stdio_serves_an_mcp_client_as_the_keys_principal(tmp_path: Path) -> None:
    load_or_create_signing_key(tmp_path / "keys")
    engine = create_engine(f"sqlite:///{tmp_path / 'stdio.db'}")
    _, key = PrincipalStore(engine).add("agent", ["requester"], "default")
    engine.dispose()
    with tool_server(tmp_path, stdio=False) as (_, log, url):
        config = write_config(tmp_path, url)
        args = ["-m", "redline.cli.main", "mcp-stdio", "--key", key, "--config", str(config)]
        params = StdioServerParameters(
            command=sys.executable, args=args, env=stdio_env(), cwd=str(ROOT)
        )

        async def session() -> tuple[list[str], types.CallToolResult, types.CallToolResult]:
            async with Client(params, cache=None) as client:
                names = [t.name for t in (await client.list_tools()).tools]
                weather = await client.call_tool("get_weather", {"city": "Oslo"})
                search = await client.call_tool("search_people", {"filter": ""})
                return names, weather, search

        names, weather, search = run(session)
    assert "get_weather" in names and "export_contacts" not in names
    assert not weather.is_error and text(weather).startswith("Weather in Oslo")
    assert (weather.meta or {})["redline/decision"]["decision"] == "allow"
    assert search.is_error and "denied" in text(search)
    assert log.names() == ["get_weather"]


def test_redline_mcp_stdio_refuses_a_wrong_key(tmp_path: Path) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:9/mcp")
    args = ["mcp-stdio", "--key", "rl_0000000000000000_x", "--config", str(config)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    assert "error" in result.output and "key" in result.output
