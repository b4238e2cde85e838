"""The FastAPI application: guard → routes; every error in one JSON shape."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from redline import __version__, console
from redline.gateway import errors, security
from redline.gateway.guard import BodyGuard
from redline.gateway.routes import aggregates, approvals, chat, decide, ledger, mcp, replay
from redline.gateway.services import Services, build_services
from redline.settings import Settings


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    settings = settings or Settings()
    services = services or build_services(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with mcp_http.running():  # the MCP tool servers' connections, /mcp's transport
            yield
        await chat.close(app)
        services.close()

    app = FastAPI(
        title="Redline",
        version=__version__,
        description="Policy enforcement, human approval and a provable ledger for model use.",
        lifespan=lifespan,
    )
    app.state.services = services
    errors.install(app)
    app.include_router(decide.router)
    app.include_router(approvals.router)
    app.include_router(ledger.router)
    app.include_router(replay.router)
    app.include_router(aggregates.router)
    chat.install(app, settings, services)
    console.install(app, services)
    mcp_http = mcp.install(app, services)
    app.add_middleware(
        BodyGuard, max_bytes=settings.max_body_bytes, max_depth=settings.max_json_depth
    )
    security.install(app)  # outermost: security headers on every answer, the guard's too
    logging.getLogger("redline").setLevel(logging.INFO)
    return app
