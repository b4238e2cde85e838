"""FastAPI dependencies: who is asking (`Authorization: Bearer rl_...`), and may they.

    principal: Annotated[Principal, Depends(current_principal)]

Every route except /healthz, the OpenAPI docs and the action tokens' public key
(/v1/approvals/public-key) takes this dependency. The key is
checked against the store on every request (no cache outlives a revocation), and the
principal's rate limit is charged.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from redline.auth.principal import Principal
from redline.errors import AuthError, ForbiddenError, NotFoundError
from redline.gateway.services import Services, get_services
from redline.gateway.threads import in_thread

# Declared so the OpenAPI document names the scheme (the docs' Authorize button, schemathesis).
bearer_scheme = HTTPBearer(auto_error=False, description="An API key: `rl_<keyid>_<secret>`.")


def bearer_key(authorization: str | None) -> str:
    """The key from an `Authorization: Bearer KEY` header; AuthError if absent or malformed."""
    if not authorization:
        raise AuthError("missing API key: send 'Authorization: Bearer <key>'")
    scheme, _, key = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise AuthError("malformed Authorization header: expected 'Bearer <key>'")
    return key.strip()


async def current_principal(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)] = None,
) -> Principal:
    """The authenticated principal; AuthError (401) for a missing, wrong or revoked key,
    RateLimited (429, Retry-After) when the principal's bucket is empty."""
    services: Services = request.app.state.services
    key = bearer_key(request.headers.get("authorization"))
    principal = await principal_for_key(services, key)
    request.state.principal = principal
    return principal


async def principal_for_key(services: Services, key: str) -> Principal:
    """The principal of an API key, rate limit charged: the one check of a key, for the API
    and the console's sign-in alike (the same answer, after the same work)."""
    # SQLite answers on the event loop without waiting; otherwise a worker thread asks.
    principal = services.principals.authenticate_here(key)
    if principal is None:
        principal = await in_thread(services.principals.authenticate, key)
    services.rate_limiter.check(principal.id)
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]
ServicesDep = Annotated[Services, Depends(get_services)]


def require_role(principal: Principal, *roles: str) -> None:
    if not any(principal.has_role(r) for r in roles):
        raise ForbiddenError(f"this needs one of the roles: {', '.join(roles)}")


def require_deployment(principal: Principal, deployment: str, *, hide: bool = True) -> None:
    """Another deployment's object: NotFoundError (its existence is not revealed), unless
    the caller is an admin."""
    if principal.is_admin or principal.deployment == deployment:
        return
    if hide:
        raise NotFoundError("not found")
    raise ForbiddenError("this belongs to another deployment")
