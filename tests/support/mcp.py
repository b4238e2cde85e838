"""Redline's MCP gateway in front of the test tool server (tests/support/mcp_tools.py), each a real
uvicorn server over loopback, and the `mcp` SDK's own client to talk to either."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import anyio
import httpx
import httpx2
import mcp_types as types
from fastapi import FastAPI
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from redline.approvals.token import PUBLIC_KEY_FILE, load_or_create_signing_key
from redline.gateway.app import create_app
from redline.settings import DeploymentConfig, McpServerConfig, Settings
from tests.support.loopback import serve
from tests.support.mcp_tools import ToolLog, http_tool_server

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]
PYTHONPATH = os.pathsep.join([str(ROOT / "src"), str(ROOT)])
PEOPLE = ("requester", "approver", "commander")


def run(fn: Callable[[], Awaitable[T]]) -> T:
    return anyio.run(fn)


@asynccontextmanager
async def mcp_client(url: str, key: str | None = None, mode: str = "auto") -> AsyncIterator[Client]:
    """The SDK's client on Streamable HTTP, with `Authorization: Bearer KEY` if given;
    `mode="legacy"` speaks the 2025 protocol (initialize handshake)."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(httpx2.AsyncClient(headers=headers, timeout=30))
        transport = streamable_http_client(url, http_client=http)
        yield await stack.enter_async_context(Client(transport, cache=None, mode=mode))


def text(result: types.CallToolResult) -> str:
    return " ".join(b.text for b in result.content if isinstance(b, types.TextContent))


@dataclass
class McpEnv:
    url: str  # Redline's base URL
    tools_url: str  # the tool server's own MCP endpoint
    log: ToolLog
    keys: dict[str, str]
    app: FastAPI
    settings: Settings
    public_key: Path

    def client(self, who: str = "requester") -> Any:
        return mcp_client(self.url + "/mcp", self.keys[who])

    def call(
        self, tool: str, arguments: dict[str, Any], who: str = "requester", **meta: Any
    ) -> types.CallToolResult:
        async def go() -> types.CallToolResult:
            async with self.client(who) as c:
                return await c.call_tool(tool, arguments, meta=meta or None)

        return run(go)

    def listed(self, who: str = "requester") -> list[types.Tool]:
        async def go() -> list[types.Tool]:
            async with self.client(who) as c:
                return (await c.list_tools()).tools

        return run(go)

    def direct(self, tool: str, arguments: dict[str, Any], **meta: Any) -> types.CallToolResult:
        """A call straight to the tool server, around Redline."""

        async def go() -> types.CallToolResult:
            async with mcp_client(self.tools_url) as c:
                return await c.call_tool(tool, arguments, meta=meta or None)

        return run(go)

    def http(self, method: str, path: str, who: str, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.keys[who]}"}
        return httpx.request(method, self.url + path, headers=headers, timeout=30, **kw)


def settings_for(tmp: Path, tools: McpServerConfig, **kw: Any) -> Settings:
    """Deployment `default` (provider-redlines) sees the tool server; `other` sees none."""
    deployments = {
        "default": DeploymentConfig(packs=["provider-redlines"]),
        "other": DeploymentConfig(packs=["provider-redlines"], mcp_servers=[]),
    }
    return Settings(
        db=str(tmp / "redline.db"), classifier="rules", approval_keys_dir=tmp / "keys",
        deployments=deployments, mcp_servers={"field": tools}, min_review_s=0,
        rate_limit_per_minute=0, **kw,
    )  # fmt: skip


def add_people(app: FastAPI) -> dict[str, str]:
    principals = app.state.services.principals
    keys = {name: principals.add(name, [name], "default")[1] for name in PEOPLE}
    keys["other-commander"] = principals.add("other-commander", ["commander"], "other")[1]
    keys["other-requester"] = principals.add("other-requester", ["requester"], "other")[1]
    return keys


def stdio_env() -> dict[str, str]:
    """What a Python subprocess of this test run needs (the SDK passes a minimal environment)."""
    names = ("PYTHONPATH", "REDLINE_MODEL_DIR", "HOME", "PATH")
    return {n: os.environ[n] for n in names if n in os.environ} | {"PYTHONPATH": PYTHONPATH}


def stdio_tools(public_key: Path, log: Path) -> McpServerConfig:
    """The test tool server as a subprocess over stdio."""
    args = ["-m", "tests.support.mcp_tools", "--key", str(public_key), "--log", str(log)]
    return McpServerConfig(command=sys.executable, args=args, env=stdio_env(), cwd=str(ROOT))


@contextmanager
def tool_server(
    tmp: Path, *, stdio: bool, timeout_s: float = 10
) -> Iterator[tuple[McpServerConfig, ToolLog, str]]:
    public_key = tmp / "keys" / PUBLIC_KEY_FILE
    if stdio:
        log = ToolLog(tmp / "tools.jsonl")
        assert log.path is not None
        yield stdio_tools(public_key, log.path), log, ""
        return
    log = ToolLog()
    with http_tool_server(public_key, log, tmp / "spent") as url:
        yield McpServerConfig(url=url, timeout_s=timeout_s), log, url


@contextmanager
def mcp_gateway(
    tmp: Path, *, stdio: bool = False, timeout_s: float = 10, **settings: Any
) -> Iterator[McpEnv]:
    """The tool server (its engage_target protected by Redline's key; over Streamable HTTP,
    or a subprocess over stdio) and Redline before it."""
    load_or_create_signing_key(tmp / "keys")
    with tool_server(tmp, stdio=stdio, timeout_s=timeout_s) as (tools, log, tools_url):
        config = settings_for(tmp, tools, **settings)
        app = create_app(config)
        keys = add_people(app)
        with serve(app) as url:
            yield McpEnv(url, tools_url, log, keys, app, config, tmp / "keys" / PUBLIC_KEY_FILE)
