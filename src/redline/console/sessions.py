"""Console sessions: an API key signed in once becomes a random session token in a cookie.

Only the token's SHA-256 is stored, with the principal and the key id it was opened with.
Every request checks the session against the same principal store the API uses: a revoked
key or principal ends its sessions at once. Sessions expire; signing out deletes the row.
The CSRF token of a session is an HMAC of its token, so nothing more is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import Engine, delete, insert, select

from redline.auth.principal import Principal
from redline.auth.store import PrincipalStore
from redline.errors import AuthError
from redline.tables import console_sessions_table as sessions_table


def _token_id(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def csrf_for(token: str) -> str:
    """The CSRF token that forms of this session carry."""
    return hmac.new(token.encode("utf-8"), b"redline-console-csrf", hashlib.sha256).hexdigest()


def csrf_matches(token: str, sent: str | None) -> bool:
    return sent is not None and hmac.compare_digest(csrf_for(token), sent)


@dataclass(frozen=True)
class Session:
    token: str
    principal: Principal
    expires_at: float

    @property
    def csrf(self) -> str:
        return csrf_for(self.token)


class SessionStore:
    """Sessions in the state database, next to the principals they belong to."""

    def __init__(self, engine: Engine, principals: PrincipalStore, ttl_s: float) -> None:
        self.engine = engine
        self.principals = principals
        self.ttl_s = ttl_s

    def open(self, principal: Principal, key_id: str) -> Session:
        """A new session for a principal whose key was just checked."""
        token = secrets.token_urlsafe(32)
        now = time.time()
        with self.engine.begin() as conn:
            conn.execute(delete(sessions_table).where(sessions_table.c.expires_at <= now))
            conn.execute(
                insert(sessions_table).values(
                    id=_token_id(token),
                    principal=principal.id,
                    key_id=key_id,
                    created_at=now,
                    expires_at=now + self.ttl_s,
                )
            )
        return Session(token, principal, now + self.ttl_s)

    def find(self, token: str) -> Session:
        """The live session of a cookie's token; AuthError when there is none, it has
        expired, or its key or principal has been revoked since."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(sessions_table).where(sessions_table.c.id == _token_id(token))
            ).first()
        if row is None or row.expires_at <= time.time():
            raise AuthError("your console session has ended: sign in again")
        principal = self.principals.by_key_id(row.key_id)
        if principal.id != row.principal:
            raise AuthError("your console session has ended: sign in again")
        return Session(token, principal, row.expires_at)

    def close(self, token: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(sessions_table).where(sessions_table.c.id == _token_id(token)))
