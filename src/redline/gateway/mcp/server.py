"""Redline as an MCP server: one low-level `mcp` SDK `Server` whose tools/list and
tools/call go through listing.py and calls.py, served over Streamable HTTP at /mcp
(gateway/routes/mcp.py) and over stdio (`redline mcp-stdio`, here), where the principal is
the key given at start.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import mcp_types as types
from mcp.server import Server
from mcp.server.context import ServerRequestContext
from mcp.server.stdio import stdio_server

from redline import __version__
from redline.auth.principal import Principal
from redline.gateway.mcp.calls import ToolCalls
from redline.gateway.mcp.gateway import Caller, McpGateway
from redline.gateway.services import Services

INSTRUCTIONS = (
    "Redline checks every tool call against the deployment's policy before it runs. A "
    "refused call answers a tool error naming the clause; a held call names an approval "
    "id: once a human approves, repeat the identical call with "
    '_meta {"redline/approval_id": "<id>"}.'
)

CallerOf = Callable[[ServerRequestContext[Any, Any]], Caller]


def build_server(calls: ToolCalls, caller_of: CallerOf) -> Server[Any]:
    async def list_tools(
        ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        del params  # one page: every offered tool
        index = await calls.catalog.index(caller_of(ctx), refresh=True)
        return types.ListToolsResult(tools=index.listed())

    async def call_tool(
        ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        return await calls.call(caller_of(ctx), params)

    return Server(
        "redline",
        version=__version__,
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


async def serve_stdio(services: Services, principal: Principal) -> None:
    """Serve MCP on this process's stdin and stdout, as `principal`, until stdin closes."""
    gateway = McpGateway.build(services)
    caller = Caller.of(principal)
    server = build_server(ToolCalls(gateway), lambda ctx: caller)
    async with gateway.servers.running(), stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())
