"""A fake OpenAI-compatible upstream, run as its own uvicorn server in tests and the bench.

Answers are canned per prompt (the last user message): text, tool calls, streaming in
small chunks, delays, HTTP errors, malformed JSON. Unknown prompts get an echo. Every
request it receives is recorded, with its Authorization header, for assertions.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from redline.settings import Settings, UpstreamConfig


@dataclass
class Answer:
    text: str | None = "Hello from the fake upstream."
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    delay_s: float = 0.0  # before answering (or before the first chunk)
    chunk_chars: int = 8  # streaming: characters per content delta
    chunk_delay_s: float = 0.0  # streaming: pause between deltas
    status: int = 200
    error: dict[str, Any] | None = None  # the error body for status >= 400
    malformed: bool = False  # answer with broken JSON


@dataclass
class FakeUpstream:
    answers: dict[str, Answer] = field(default_factory=dict)
    default: Answer | None = None
    received: list[dict[str, Any]] = field(default_factory=list)
    authorization: list[str | None] = field(default_factory=list)

    def answer_for(self, body: dict[str, Any]) -> Answer:
        users = [m for m in body.get("messages", []) if m.get("role") == "user"]
        prompt = users[-1].get("content") if users else ""
        if isinstance(prompt, str) and prompt in self.answers:
            return self.answers[prompt]
        return self.default or Answer(text=f"You said: {prompt}")


def _calls(answer: Answer) -> list[dict[str, Any]]:
    return [
        {"id": f"call_{i}", "type": "function",
         "function": {"name": name, "arguments": json.dumps(args)}}
        for i, (name, args) in enumerate(answer.tool_calls)
    ]  # fmt: skip


def completion(model: str, answer: Answer) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": answer.text}
    if answer.tool_calls:
        message["tool_calls"] = _calls(answer)
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message,
                     "finish_reason": "tool_calls" if answer.tool_calls else "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10},
    }  # fmt: skip


async def chunks(model: str, answer: Answer) -> AsyncIterator[bytes]:
    base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk",
            "created": int(time.time()), "model": model}  # fmt: skip

    def event(delta: dict[str, Any], finish: str | None = None) -> bytes:
        body = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        return f"data: {json.dumps(body)}\n\n".encode()

    yield event({"role": "assistant", "content": ""})
    text = answer.text or ""
    for i in range(0, len(text), answer.chunk_chars):
        if answer.chunk_delay_s:
            await asyncio.sleep(answer.chunk_delay_s)
        yield event({"content": text[i : i + answer.chunk_chars]})
    for i, call in enumerate(_calls(answer)):
        args = call["function"]["arguments"]
        half = len(args) // 2
        yield event({"tool_calls": [{"index": i, "id": call["id"], "type": "function",
                                     "function": {"name": call["function"]["name"],
                                                  "arguments": args[:half]}}]})  # fmt: skip
        yield event({"tool_calls": [{"index": i, "function": {"arguments": args[half:]}}]})
    if answer.malformed:
        yield b"data: {not json\n\n"
    yield event({}, "tool_calls" if answer.tool_calls else "stop")
    yield b"data: [DONE]\n\n"


def create_fake(fake: FakeUpstream) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        body = await request.json()
        fake.received.append(body)
        fake.authorization.append(request.headers.get("authorization"))
        answer = fake.answer_for(body)
        if answer.delay_s:
            await asyncio.sleep(answer.delay_s)
        if answer.status >= 400:
            return JSONResponse(answer.error or {"error": {"message": "fake failure"}},
                                answer.status)  # fmt: skip
        if body.get("stream"):
            return StreamingResponse(chunks(body["model"], answer), media_type="text/event-stream")
        if answer.malformed:
            return Response(b'{"id": "chatcmpl-fake", "choices": [', media_type="application/json")
        return JSONResponse(completion(body["model"], answer))

    return app


# -- a Redline gateway in front of the fake, for the tests and the bench -------------------

FAKE_KEY = "sk-fake-UPSTREAM-SECRET-0123456789"


@dataclass
class GatewayEnv:
    url: str  # Redline's base URL
    upstream_url: str  # the fake's base URL (…/v1)
    fake: FakeUpstream
    app: FastAPI
    keys: dict[str, str]  # principal name → API key
    settings: Settings

    @contextmanager
    def another_worker(self) -> Iterator[str]:
        """A second Redline server on the same database and keys (another gateway worker,
        or this one after a restart); yields its base URL."""
        from redline.gateway.app import create_app
        from tests.support.loopback import serve

        with serve(create_app(self.settings)) as url:
            yield url

    @property
    def base(self) -> str:
        return self.url

    def client(self, who: str = "requester", **kw: Any) -> Any:
        from openai import OpenAI

        return OpenAI(base_url=self.url + "/v1", api_key=self.keys[who], max_retries=0, **kw)

    def approve(self, approval_id: str, who: str = "approver") -> None:
        services = self.app.state.services
        principal = services.principals.authenticate(self.keys[who])
        services.approvals.approve(approval_id, principal, "approved in a test")


@contextmanager
def gateway(
    tmp: Path,
    fake: FakeUpstream | None = None,
    *,
    deployment_packs: str = "all-lawful-purposes",
    timeout_s: float = 2.0,
    extra_upstreams: dict[str, UpstreamConfig] | None = None,
    classifier: str = "rules",
) -> Iterator[GatewayEnv]:
    """The fake upstream and Redline in front of it, each a real uvicorn server.

    Upstream `alpha` (model alpha-1) carries no packs of its own; upstream `beta`
    (model beta-1) carries provider-redlines. Principals: requester, approver, commander.
    """
    from redline.gateway.app import create_app
    from redline.settings import DeploymentConfig
    from tests.support.loopback import serve

    fake = fake or FakeUpstream()
    os.environ["FAKE_UPSTREAM_KEY"] = FAKE_KEY
    with serve(create_fake(fake)) as up:
        upstreams = {
            "alpha": UpstreamConfig(base_url=up + "/v1", api_key_env="FAKE_UPSTREAM_KEY",
                                    models=["alpha-1"], timeout_s=timeout_s),
            "beta": UpstreamConfig(base_url=up + "/v1", api_key_env="FAKE_UPSTREAM_KEY",
                                   models=["beta-1"], packs=["provider-redlines"],
                                   timeout_s=timeout_s),
            **(extra_upstreams or {}),
        }  # fmt: skip
        settings = Settings(
            db=str(tmp / "redline.db"), classifier=classifier, approval_keys_dir=tmp / "keys",
            deployments={"default": DeploymentConfig(packs=deployment_packs.split(","))},
            upstreams=upstreams, min_review_s=0, rate_limit_per_minute=0,
        )  # fmt: skip
        app = create_app(settings)
        principals = app.state.services.principals
        keys = {
            name: principals.add(name, roles, "default")[1]
            for name, roles in (("requester", ["requester"]), ("approver", ["approver"]),
                                ("commander", ["commander"]))
        }  # fmt: skip
        with serve(app) as url:
            yield GatewayEnv(url, up + "/v1", fake, app, keys, settings)
