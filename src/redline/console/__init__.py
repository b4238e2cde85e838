"""The web console at /console: approvals, decisions, the ledger, human control, policies.

Server-rendered (Jinja2) from templates and static files inside this package: nothing is
fetched from anywhere else, so it works air-gapped. `install` mounts it on the API's app.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from redline.console import approvals, control, decisions, ledger, policies, signin
from redline.console.sessions import SessionStore
from redline.console.web import PREFIX, Console, SignInNeeded, render, templates
from redline.errors import RedlineError
from redline.gateway.services import Services

Handler = Callable[[Request, Any], Response | Awaitable[Response]]


def install(app: FastAPI, services: Services) -> None:
    """Mount the pages, the static files, and HTML error pages for the console's paths."""
    sessions = SessionStore(
        services.principals.engine, services.principals, services.settings.console_session_s
    )
    app.state.console = Console(sessions, templates())
    for module in (signin, approvals, decisions, ledger, control, policies):
        app.include_router(module.router)
    app.mount(
        f"{PREFIX}/static",
        StaticFiles(packages=[("redline.console", "static")]),
        name="console-static",
    )
    for kind in (RedlineError, HTTPException, RequestValidationError):
        _html_errors(app, kind)


def _is_page(request: Request) -> bool:
    path = request.url.path
    return path.startswith(PREFIX) and not path.startswith(f"{PREFIX}/api/")


def _status_and_message(exc: Exception) -> tuple[int, str]:
    if isinstance(exc, RedlineError):
        return exc.status, str(exc)
    if isinstance(exc, HTTPException):
        return exc.status_code, str(exc.detail)
    if isinstance(exc, RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return 400, f"{where}: {first.get('msg', 'invalid')}"
    return 500, "internal error"


def _html_errors(app: FastAPI, kind: type[Exception]) -> None:
    """Console pages answer errors as pages (the same status and message as the API's
    JSON); the API's paths, and the console's JSON, keep the one JSON error shape."""
    original: Handler = app.exception_handlers[kind]

    async def handler(request: Request, exc: Exception) -> Response:
        if not _is_page(request):
            answer = original(request, exc)
            return await answer if inspect.isawaitable(answer) else answer
        if isinstance(exc, SignInNeeded):
            if request.method == "GET":
                return RedirectResponse(f"{PREFIX}/login", status_code=303)
            return signin.login_page(request, 401, str(exc))
        status, message = _status_and_message(exc)
        session = getattr(request.state, "session", None)
        return render(request, "error.html", session, status, code=status, message=message)

    app.add_exception_handler(kind, handler)
