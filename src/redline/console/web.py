"""What every console page shares: the session dependency, the CSRF check, rendering.

A page's principal comes from its session cookie, checked on every request against the
same principal store as an API key, and charged to the same rate limit. The checks on what
that principal may see and do are the API's own: pages call the API's route functions.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from importlib import resources
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from redline.auth.principal import Principal
from redline.console.sessions import Session, SessionStore, csrf_matches
from redline.errors import AuthError, ForbiddenError
from redline.gateway.services import Services
from redline.gateway.threads import in_thread

COOKIE = "redline_console"
LOGIN_COOKIE = "redline_console_login"  # the sign-in form's own CSRF pair
PREFIX = "/console"


class SignInNeeded(AuthError):
    """No live session: pages answer with the sign-in page, never content."""


@dataclass
class Console:
    sessions: SessionStore
    templates: Environment


def templates() -> Environment:
    folder = resources.files("redline.console") / "templates"
    env = Environment(
        loader=FileSystemLoader(str(folder)),
        autoescape=select_autoescape(["html", "svg"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["utc"] = _utc
    env.filters["ago"] = _duration
    env.filters["json"] = _json
    return env


def _json(value: Any, indent: int | None = None) -> str:
    """JSON as a person reads it (escaped by the template, not by the encoder)."""
    return json.dumps(value, ensure_ascii=False, indent=indent)


def _utc(t: float | None) -> str:
    if t is None:
        return "—"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t))


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    s = int(max(0, seconds))
    if s < 120:
        return f"{s} s"
    if s < 7200:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def console_of(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def current_session(request: Request) -> Session:
    """The request's live session; SignInNeeded otherwise. Charges the rate limit."""
    token = request.cookies.get(COOKIE)
    if not token:
        raise SignInNeeded("sign in with your API key")
    try:
        session = await in_thread(console_of(request).sessions.find, token)
    except AuthError as exc:
        raise SignInNeeded(str(exc)) from exc
    services_of(request).rate_limiter.check(session.principal.id)
    request.state.principal = session.principal
    request.state.session = session
    return session


SessionDep = Annotated[Session, Depends(current_session)]


async def checked_form(request: Request, session: SessionDep) -> dict[str, str]:
    """A state-changing form of a live session, once its CSRF token checks (403 if not)."""
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    if not csrf_matches(session.token, fields.get("csrf")):
        raise ForbiddenError("the form's CSRF token is missing or wrong: reload the page")
    return fields


FormDep = Annotated[dict[str, str], Depends(checked_form)]


def render(
    request: Request,
    name: str,
    session: Session | None,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    page = console_of(request).templates.get_template(name)
    principal: Principal | None = session.principal if session else None
    html = page.render(
        principal=principal,
        csrf=session.csrf if session else "",
        path=request.url.path,
        now=time.time(),
        **context,
    )
    return HTMLResponse(html, status_code=status)
