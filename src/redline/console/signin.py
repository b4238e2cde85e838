"""Sign in with an API key, sign out. The key is checked by the API's own key check."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from redline.auth.store import key_id_of
from redline.console.web import (
    COOKIE,
    LOGIN_COOKIE,
    PREFIX,
    FormDep,
    SessionDep,
    console_of,
    render,
    services_of,
)
from redline.errors import AuthError, ForbiddenError
from redline.gateway.deps import principal_for_key
from redline.gateway.threads import in_thread

router = APIRouter(prefix=PREFIX, include_in_schema=False)


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def login_page(request: Request, status: int = 200, error: str = "") -> Response:
    """The sign-in form, with a fresh CSRF pair: a cookie and the same value in the form."""
    nonce = secrets.token_urlsafe(24)
    page = render(request, "login.html", None, status, login_csrf=nonce, error=error)
    page.set_cookie(
        LOGIN_COOKIE, nonce, max_age=3600, path=PREFIX, secure=_secure(request),
        httponly=True, samesite="strict",
    )  # fmt: skip
    return page


@router.get("")
async def home() -> Response:
    return RedirectResponse(f"{PREFIX}/approvals", status_code=303)


@router.get("/login")
async def login_form(request: Request) -> Response:
    return login_page(request)


@router.post("/login")
async def login(
    request: Request,
    key: Annotated[str, Form(max_length=256)] = "",
    csrf: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """1. the form's CSRF value must equal its cookie's; 2. the key is checked exactly as
    the API checks it (a wrong one: the API's 401 and message); 3. a session opens."""
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, csrf):
        raise ForbiddenError("the sign-in form's CSRF token is missing or wrong: reload the page")
    services = services_of(request)
    try:
        principal = await principal_for_key(services, key.strip())
    except AuthError as exc:
        return login_page(request, exc.status, str(exc))
    session = await in_thread(console_of(request).sessions.open, principal, key_id_of(key.strip()))
    answer = RedirectResponse(f"{PREFIX}/approvals", status_code=303)
    answer.set_cookie(
        COOKIE, session.token, max_age=int(console_of(request).sessions.ttl_s), path=PREFIX,
        secure=_secure(request), httponly=True, samesite="strict",
    )  # fmt: skip
    answer.delete_cookie(LOGIN_COOKIE, path=PREFIX)
    return answer


@router.post("/logout")
async def logout(request: Request, session: SessionDep, form: FormDep) -> Response:
    """End the session on the server, then forget the cookie."""
    del form
    await in_thread(console_of(request).sessions.close, session.token)
    answer = RedirectResponse(f"{PREFIX}/login", status_code=303)
    answer.delete_cookie(COOKIE, path=PREFIX, secure=_secure(request), httponly=True,
                         samesite="strict")  # fmt: skip
    return answer
