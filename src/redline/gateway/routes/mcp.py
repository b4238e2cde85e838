"""/mcp: the MCP gateway over Streamable HTTP (gateway/mcp/, docs/mcp.md).

Every request is authenticated like every other route (`Authorization: Bearer <Redline API
key>`, the same rate limit, the same JSON errors), and the chat gateway's attestation headers
count here too; then the request is handed to the `mcp` SDK's transport. The transport is
stateless with JSON answers: any worker serves any request, and a held call can be resumed
anywhere. It is JSON-RPC, so it stays out of the OpenAPI document.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from mcp.server.context import ServerRequestContext
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from starlette.types import ASGIApp, Receive, Scope, Send

from redline.errors import AuthError
from redline.gateway.chat.identity import context_of
from redline.gateway.deps import PrincipalDep
from redline.gateway.mcp.calls import ToolCalls
from redline.gateway.mcp.gateway import Caller, McpGateway
from redline.gateway.mcp.server import build_server
from redline.gateway.services import Services

CALLER_KEY = "redline.mcp.caller"  # the ASGI scope key the route hands the caller over in


def http_caller(ctx: ServerRequestContext[Any, Any]) -> Caller:
    request = ctx.request
    caller = request.scope.get(CALLER_KEY) if isinstance(request, Request) else None
    if not isinstance(caller, Caller):
        raise AuthError("the MCP request carries no authenticated caller")
    return caller


class _Handoff(Response):
    """Hands an authenticated request over to the MCP transport, an ASGI app of its own."""

    def __init__(self, app: ASGIApp) -> None:
        super().__init__()
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)


@dataclass
class McpHttp:
    gateway: McpGateway
    manager: StreamableHTTPSessionManager

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """The tool servers' connections and the transport, for the server's lifetime."""
        async with self.gateway.servers.running(), self.manager.run():
            yield


def install(app: FastAPI, services: Services) -> McpHttp:
    """Serve MCP at /mcp. Stateless: POST only; there is no session to stream on (GET) or end
    (DELETE), and both answer 405, as the transport allows."""
    gateway = McpGateway.build(services)
    server = build_server(ToolCalls(gateway), http_caller)
    manager = StreamableHTTPSessionManager(app=server, json_response=True, stateless=True)
    mcp = McpHttp(gateway, manager)

    @app.post("/mcp", include_in_schema=False)
    async def mcp_endpoint(request: Request, principal: PrincipalDep) -> Response:
        request.scope[CALLER_KEY] = Caller.of(principal, context_of(request, principal))
        return _Handoff(manager.handle_request)

    return mcp
