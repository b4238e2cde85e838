"""The upstream client: OpenAI-compatible servers over httpx, with timeouts.

Requests go straight to an `httpx.AsyncHTTPTransport` (the connection pool), not through
`AsyncClient`: the client's auth, redirect and cookie hops have nothing to do here (a
gateway must not follow an upstream's redirect with the key anyway) and cost about a third
of the hop's time (bench/gateway.py).

Errors become `UpstreamError` with a status, a code and a message that never carries
the upstream key: anything the upstream says is redacted before it reaches a client or
a log line.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from redline.settings import UpstreamConfig

log = logging.getLogger("redline.gateway.upstream")


class UpstreamError(Exception):
    """An upstream failure, already phrased for the client (no key, no content)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass
class Upstream:
    name: str
    config: UpstreamConfig
    _transport: httpx.AsyncHTTPTransport | None = None

    @property
    def url(self) -> str:
        return self.config.base_url.rstrip("/") + "/chat/completions"

    def _key(self) -> str | None:
        env = self.config.api_key_env
        return os.environ.get(env) if env else None

    def redact(self, text: str) -> str:
        key = self._key()
        return text.replace(key, "[redacted]") if key else text

    def transport(self) -> httpx.AsyncHTTPTransport:
        if self._transport is None:
            limits = httpx.Limits(max_connections=256, max_keepalive_connections=64)
            self._transport = httpx.AsyncHTTPTransport(limits=limits, trust_env=False)
        return self._transport

    def _request(self, body: dict[str, Any]) -> httpx.Request:
        headers = {"content-type": "application/json", "accept": "application/json"}
        if key := self._key():
            headers["authorization"] = f"Bearer {key}"
        timeout = httpx.Timeout(self.config.timeout_s, connect=self.config.connect_timeout_s)
        return httpx.Request(
            "POST",
            self.url,
            headers=headers,
            content=json.dumps(body).encode(),
            extensions={"timeout": timeout.as_dict()},
        )

    async def _send(self, body: dict[str, Any]) -> httpx.Response:
        try:
            return await self.transport().handle_async_request(self._request(body))
        except httpx.HTTPError as exc:
            raise self._transport_error(exc) from None

    async def complete(self, body: dict[str, Any]) -> dict[str, Any]:
        """One non-streaming completion, parsed as a JSON object."""
        response = await self._send(body)
        try:
            raw = await response.aread()
        except httpx.HTTPError as exc:
            raise self._transport_error(exc) from None
        finally:
            await response.aclose()
        if response.status_code >= 400:
            raise self._status_error(response.status_code, raw.decode("utf-8", "replace"))
        return self._json(raw)

    @asynccontextmanager
    async def stream(self, body: dict[str, Any]) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        """Open a streaming completion; yields an iterator of parsed SSE data objects.

        Connection and status failures raise here, before the caller answers anything."""
        response = await self._send(body)
        try:
            if response.status_code >= 400:
                raw = await response.aread()
                raise self._status_error(response.status_code, raw.decode("utf-8", "replace"))
            yield self._events(response)
        except httpx.HTTPError as exc:
            raise self._transport_error(exc) from None
        finally:
            await response.aclose()

    async def _events(self, response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
        try:
            async for line in response.aiter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    return
                event = self._json(data.encode())
                if "error" in event:
                    raise self._status_error(502, json.dumps(event))
                yield event
        except httpx.HTTPError as exc:
            raise self._transport_error(exc) from None

    def _json(self, raw: bytes) -> dict[str, Any]:
        try:
            value = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            value = None
        if not isinstance(value, dict):
            log.warning("upstream %s answered malformed JSON", self.name)
            raise UpstreamError(
                502,
                "upstream_malformed",
                f"upstream {self.name!r} answered malformed JSON; nothing was returned unchecked",
            )
        return value

    def _transport_error(self, exc: httpx.HTTPError) -> UpstreamError:
        kind = type(exc).__name__
        log.warning("upstream %s failed: %s", self.name, kind)
        if isinstance(exc, httpx.TimeoutException):
            return UpstreamError(
                504, "upstream_timeout", f"upstream {self.name!r} timed out ({kind})"
            )
        return UpstreamError(
            502, "upstream_unreachable", f"upstream {self.name!r} could not be reached ({kind})"
        )

    def _status_error(self, status: int, text: str) -> UpstreamError:
        log.warning("upstream %s answered HTTP %d", self.name, status)
        detail = _message_of(self.redact(text))
        if status in (400, 404, 413, 422):
            return UpstreamError(
                400, "upstream_rejected", f"upstream {self.name!r} rejected the request: {detail}"
            )
        if status == 429:
            return UpstreamError(
                429, "upstream_rate_limited", f"upstream {self.name!r} is rate limiting: {detail}"
            )
        return UpstreamError(
            502, "upstream_error", f"upstream {self.name!r} failed with HTTP {status}"
        )

    async def close(self) -> None:
        if self._transport is not None:
            await self._transport.aclose()
            self._transport = None


def _message_of(text: str) -> str:
    try:
        value = json.loads(text)
        message = value["error"]["message"]
    except (json.JSONDecodeError, KeyError, TypeError):
        return "no message"
    return str(message)[:300]


class Upstreams:
    """Model name → upstream, from the settings."""

    def __init__(self, configs: dict[str, UpstreamConfig]) -> None:
        self.by_name = {name: Upstream(name, cfg) for name, cfg in configs.items()}
        self.by_model: dict[str, Upstream] = {}
        for up in self.by_name.values():
            for model in up.config.models:
                self.by_model.setdefault(model, up)

    def models(self, allowed: list[str] | None) -> list[tuple[str, str]]:
        """(model, upstream) pairs a deployment may use (`allowed` None: every upstream)."""
        return [
            (m, u.name) for m, u in self.by_model.items() if allowed is None or u.name in allowed
        ]

    async def close(self) -> None:
        for up in self.by_name.values():
            await up.close()
