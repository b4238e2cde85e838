"""An ASGI guard in front of every route: body size, UTF-8 and JSON nesting depth.

It runs before FastAPI parses anything, so an oversized, mis-encoded or pathologically
nested body is refused in the one error shape and never reaches a parser.
"""

from __future__ import annotations

import json
import re

import numpy as np
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from redline.gateway.errors import error_body

# A complete JSON string literal (unrolled, so long strings cost no backtracking).
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def json_depth(raw: str) -> int:
    """Maximum nesting of [] and {} outside strings, without building the value.

    Regular expressions and numpy, not a loop over characters: the guard runs on the event
    loop, where a Python loop over a long conversation costs milliseconds."""
    outside = _STRING.sub("", raw)
    # A quote left over opens a string that never closes: the rest is inside it.
    if (cut := outside.find('"')) >= 0:
        outside = outside[:cut]
    brackets = _NOT_BRACKET.sub("", outside)
    if not brackets:
        return 0
    codes = np.frombuffer(brackets.encode("ascii"), dtype=np.uint8)
    steps = np.where((codes == ord("[")) | (codes == ord("{")), 1, -1)
    return int(np.cumsum(steps).max(initial=0))


class BodyGuard:
    def __init__(self, app: ASGIApp, max_bytes: int, max_depth: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_depth = max_depth

    async def _refuse(self, send: Send, status: int, code: str, message: str) -> None:
        body = json.dumps(error_body(status, code, message)).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(
                send,
                413,
                "body_too_large",
                f"request body is {int(declared)} bytes; the limit is {self.max_bytes}",
            )
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(
                    send,
                    413,
                    "body_too_large",
                    f"request body exceeds the limit of {self.max_bytes} bytes",
                )
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if problem := self._check(body, headers.get(b"content-type", b"")):
            await self._refuse(send, 400, *problem)
            return
        await self.app(scope, _replay(body, receive), send)

    def _check(self, body: bytes, content_type: bytes) -> tuple[str, str] | None:
        if not body or b"json" not in content_type.lower():
            return None
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            return "invalid_utf8", f"request body is not valid UTF-8 (byte {exc.start})"
        if (depth := json_depth(text)) > self.max_depth:
            return "too_deep", f"JSON nesting depth {depth} exceeds the limit of {self.max_depth}"
        return None


def _replay(body: bytes, downstream: Receive) -> Receive:
    """Hand the buffered body over once, then pass through (a stream waits for disconnect)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await downstream()

    return receive
