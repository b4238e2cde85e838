"""The MCP tool servers behind the gateway: one long-lived client connection to each.

Each configured server gets a supervisor task that opens the `mcp` SDK's `Client` (a
subprocess over stdio, or Streamable HTTP), keeps it open, and reopens it after it breaks,
waiting longer between tries (up to 5 s). Every tool call of every agent goes over that one
connection, so a call pays for no handshake. The supervisors live in `ToolServers.running()`,
entered once by the server's lifespan (or by `redline mcp-stdio`).

Errors: UpstreamError (502) and its UpstreamTimeout (504); both say which server and why.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import httpx2
import mcp_types as types
from mcp import Client, MCPError
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CONNECTION_CLOSED, REQUEST_TIMEOUT

from redline.errors import RedlineError
from redline.settings import McpServerConfig

log = logging.getLogger("redline.gateway.mcp")

_MAX_PAGES = 100  # tools/list pages read from one server; a paginator that never ends stops


class UpstreamError(RedlineError):
    """An MCP tool server could not be reached, broke the connection, or answered with a
    protocol error; the tool call's outcome is unknown to Redline."""

    code = "upstream_unreachable"
    status = 502


class UpstreamTimeout(UpstreamError):
    code = "upstream_timeout"
    status = 504


def _headers(config: McpServerConfig) -> dict[str, str]:
    """The configured headers, read from the environment now (values never logged)."""
    return {h: os.environ[v] for h, v in config.headers_env.items() if os.environ.get(v)}


@dataclass
class ToolServer:
    name: str
    config: McpServerConfig
    _client: Client | None = None
    _broken: anyio.Event | None = None  # set when a call finds the connection broken
    _tools: list[types.Tool] | None = None  # the last listing; calls are routed by it
    listings: int = 0  # how many listings were read: a changed count means a new listing

    async def _connect(self, stack: AsyncExitStack) -> Client:
        cfg = self.config
        if cfg.command is not None:
            params = StdioServerParameters(
                command=cfg.command, args=cfg.args, env=cfg.env or None, cwd=cfg.cwd
            )
            return await stack.enter_async_context(
                Client(params, cache=None, read_timeout_seconds=cfg.timeout_s)
            )
        assert cfg.url is not None
        timeout = httpx2.Timeout(cfg.connect_timeout_s, read=cfg.timeout_s)
        http = await stack.enter_async_context(
            httpx2.AsyncClient(headers=_headers(cfg), timeout=timeout)
        )
        transport = streamable_http_client(cfg.url, http_client=http)
        return await stack.enter_async_context(
            Client(transport, cache=None, read_timeout_seconds=cfg.timeout_s)
        )

    async def supervise(self) -> None:
        """Keep a connection open until cancelled; reopen it whenever it breaks."""
        delay = 0.2
        while True:
            try:
                async with AsyncExitStack() as stack:
                    client = await self._connect(stack)
                    broken = self._broken = anyio.Event()
                    self._client = client
                    log.info("MCP server %s connected (%s)", self.name, client.protocol_version)
                    delay = 0.2
                    await broken.wait()
            except Exception as exc:
                log.warning("MCP server %s: connection failed: %s", self.name, type(exc).__name__)
            finally:
                self._client = None
            await anyio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def client(self) -> Client:
        """The open connection, waiting for it up to the connect timeout."""
        with anyio.move_on_after(self.config.connect_timeout_s):
            while self._client is None:
                await anyio.sleep(0.02)
        if self._client is None:
            raise UpstreamError(
                f"MCP server {self.name!r} is not reachable "
                f"(no connection within {self.config.connect_timeout_s:g} s)"
            )
        return self._client

    def _failed(self, exc: Exception, what: str) -> UpstreamError:
        if isinstance(exc, MCPError) and exc.error.code == REQUEST_TIMEOUT:
            return UpstreamTimeout(
                f"MCP server {self.name!r} did not answer {what} within {self.config.timeout_s:g} s"
            )
        if isinstance(exc, MCPError) and exc.error.code != CONNECTION_CLOSED:
            return UpstreamError(f"MCP server {self.name!r} refused {what}: {exc.error.message}")
        if self._broken is not None:
            self._broken.set()  # the supervisor reconnects
        return UpstreamError(
            f"MCP server {self.name!r} lost the connection during {what}: {type(exc).__name__}"
        )

    async def list_tools(self, *, refresh: bool = True) -> list[types.Tool]:
        """The server's tools: listed anew, or (not `refresh`) as last listed."""
        if not refresh and self._tools is not None:
            return self._tools
        client = await self.client()
        tools: list[types.Tool] = []
        cursor: str | None = None
        try:
            for _ in range(_MAX_PAGES):
                page = await client.list_tools(cursor=cursor)
                tools += page.tools
                if (cursor := page.next_cursor) is None:
                    break
        except Exception as exc:
            raise self._failed(exc, "tools/list") from exc
        self._tools = tools
        self.listings += 1
        return tools

    async def call_tool(
        self, tool: str, arguments: dict[str, Any], meta: dict[str, Any] | None
    ) -> types.CallToolResult:
        client = await self.client()
        try:
            return await client.call_tool(
                tool,
                arguments,
                read_timeout_seconds=self.config.timeout_s,
                meta=meta,  # type: ignore[arg-type]  # an open map on the wire
            )
        except Exception as exc:
            raise self._failed(exc, f"tools/call {tool!r}") from exc


@dataclass
class ToolServers:
    servers: dict[str, ToolServer]

    @classmethod
    def from_settings(cls, configs: dict[str, McpServerConfig]) -> ToolServers:
        return cls({name: ToolServer(name, config) for name, config in configs.items()})

    @asynccontextmanager
    async def running(self) -> AsyncIterator[ToolServers]:
        """Supervise every server's connection while the block runs."""
        async with anyio.create_task_group() as group:
            for server in self.servers.values():
                group.start_soon(server.supervise)
            try:
                yield self
            finally:
                group.cancel_scope.cancel()

    def get(self, name: str) -> ToolServer:
        return self.servers[name]
