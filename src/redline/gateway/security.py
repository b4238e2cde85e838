"""Security headers on every response, and a per-principal token-bucket rate limit."""

from __future__ import annotations

import math
import threading
import time

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from redline.errors import RedlineError
from redline.gateway.errors import error_response

_CSP = b"default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
# The interactive API docs load Swagger UI / ReDoc assets from their CDN.
_DOCS_CSP = (
    b"default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    b"style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    b"img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
    b"font-src 'self' https://fonts.gstatic.com; worker-src 'self' blob:; frame-ancestors 'none'"
)
_DOCS = ("/docs", "/redoc")


class SecurityHeaders:
    """X-Content-Type-Options, X-Frame-Options DENY, CSP, Referrer-Policy, and no-store."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        csp = _DOCS_CSP if path.startswith(_DOCS) else _CSP

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in _NAMES]
                headers += [
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"content-security-policy", csp),
                    (b"referrer-policy", b"no-referrer"),
                    (b"cache-control", b"no-store"),
                    (b"cross-origin-opener-policy", b"same-origin"),
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


_NAMES = {
    b"x-content-type-options",
    b"x-frame-options",
    b"content-security-policy",
    b"referrer-policy",
    b"cache-control",
    b"cross-origin-opener-policy",
}


class RateLimited(RedlineError):
    code = "rate_limited"
    status = 429

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limit exceeded; retry after {math.ceil(retry_after)} s")
        self.retry_after = max(1, math.ceil(retry_after))


class TokenBuckets:
    """One token bucket per key, in process: `burst` tokens at once, `per_minute` sustained.

    `per_minute <= 0` is no limit: every take succeeds."""

    def __init__(self, per_minute: float, burst: float) -> None:
        self.rate = per_minute / 60.0
        self.burst = burst
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str, cost: float) -> float:
        """Take `cost` tokens from key's bucket and answer 0.0; or take nothing and answer
        the seconds until they are there."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens < cost:
                self._buckets[key] = (tokens, now)
                return (cost - tokens) / self.rate
            self._buckets[key] = (tokens - cost, now)
            if len(self._buckets) > 100_000:  # bound memory: drop the full (idle) buckets
                self._buckets = {k: v for k, v in self._buckets.items() if v[0] < self.burst}
            return 0.0


class RateLimiter:
    """Requests per principal: `burst` at once, `per_minute` sustained (TokenBuckets).

    `per_minute <= 0` switches the limit off."""

    def __init__(self, per_minute: float, burst: int) -> None:
        self.buckets = TokenBuckets(per_minute, float(max(1, burst)))

    def check(self, key: str) -> None:
        wait = self.buckets.take(key, 1.0)
        if wait > 0:
            raise RateLimited(wait)


def install(app: FastAPI) -> None:
    """The 429 handler (with Retry-After) and the security-headers middleware."""

    @app.exception_handler(RateLimited)
    async def _limited(_: Request, exc: RateLimited) -> JSONResponse:
        return error_response(
            429, exc.code, str(exc), headers={"Retry-After": str(exc.retry_after)}
        )

    app.add_middleware(SecurityHeaders)
