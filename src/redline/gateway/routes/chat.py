"""POST /v1/chat/completions and GET /v1/models: the OpenAI-compatible gateway.

request → decide on the whole conversation (deny 403 policy_denied, hold 409
approval_required) → upstream chosen by `model` → decide on the answer's text and tool
calls → client. Streaming answers are checked in windows (stream.py).
"""

from __future__ import annotations

import logging
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import ValidationError

from redline.approvals.api import APPROVAL_HEADER, Grant
from redline.gateway.chat.check import Check, check_failed, denied, held
from redline.gateway.chat.identity import approval_ids, approvals_of, context_of
from redline.gateway.chat.models import ChatCompletion, ChatRequest, ModelCard, ModelList
from redline.gateway.chat.parking import Parked, Parking, release, withheld
from redline.gateway.chat.stream import StreamChecker, sse
from redline.gateway.chat.tools import decide_items, items_of, render
from redline.gateway.chat.upstream import Upstream, UpstreamError, Upstreams
from redline.gateway.deps import PrincipalDep, ServicesDep
from redline.gateway.errors import error_response
from redline.gateway.services import Services
from redline.gateway.threads import in_thread
from redline.settings import Settings
from redline.subject import DecideRequest

log = logging.getLogger("redline.gateway.chat")
router = APIRouter(tags=["chat"])
TOKEN_HEADER = "Redline-Action-Token"  # noqa: S105 (a header name)
NO_UPSTREAM = (
    "No upstream model is configured, so Redline has nothing to forward to. Start it with "
    "`redline serve --config FILE`, where FILE lists [upstreams.NAME] with base_url, "
    "api_key_env and models (see examples/redline.toml and docs/gateway.md)."
)


@dataclass
class ChatGateway:
    upstreams: Upstreams
    parking: Parking


def install(app: FastAPI, settings: Settings, services: Services) -> None:
    # Kept as long as an approval can still be given, and then used.
    ttls = [d.approval_ttl_s for d in settings.deployments.values() if d.approval_ttl_s]
    ttl_s = max([settings.approval_ttl_s, *ttls]) + settings.token_ttl_s
    parking = Parking(
        services.approvals.engine, ttl_s=ttl_s, content_key=services.approvals.content_key
    )
    app.state.chat = ChatGateway(Upstreams(settings.upstreams), parking)
    app.include_router(router)


async def close(app: FastAPI) -> None:
    gateway: ChatGateway = app.state.chat
    await gateway.upstreams.close()


def _gateway(request: Request) -> ChatGateway:
    gateway: ChatGateway = request.app.state.chat
    return gateway


def _allowed(services: Services, deployment: str) -> list[str] | None:
    config = services.settings.deployments.get(deployment)
    return config.upstreams if config is not None else []


def _route(gw: ChatGateway, services: Services, model: str, deployment: str) -> Upstream | None:
    upstream = gw.upstreams.by_model.get(model)
    allowed = _allowed(services, deployment)
    if upstream is None or (allowed is not None and upstream.name not in allowed):
        return None
    return upstream


@router.get("/v1/models", response_model=ModelList)
async def models(request: Request, principal: PrincipalDep, services: ServicesDep) -> ModelList:
    """The models this caller's deployment may use, each owned by its upstream."""
    pairs = _gateway(request).upstreams.models(_allowed(services, principal.deployment))
    return ModelList(data=[ModelCard(id=m, owned_by=u) for m, u in pairs])


@router.post("/v1/chat/completions", response_model=None)
async def chat_completions(
    body: ChatRequest, request: Request, principal: PrincipalDep, services: ServicesDep
) -> Response:
    """The Chat Completions API, with Redline's decisions on the way in and out."""
    gw = _gateway(request)
    if not gw.upstreams.by_name:
        return error_response(503, "no_upstream_configured", NO_UPSTREAM)
    upstream = _route(gw, services, body.model, principal.deployment)
    if upstream is None:
        return error_response(
            404,
            "model_not_found",
            f"The model {body.model!r} is not served here; GET /v1/models "
            "lists the models you may use.",
        )
    check = Check(
        services.decider_for(principal.deployment, upstream.name),
        context_of(request, principal),
        principal,
        approvals_of(services),
    )
    tools = tuple(body.tools) if body.tools is not None else None
    asked = DecideRequest(messages=tuple(body.messages), tools=tools, context=check.context)
    services.budget.charge(principal.id, asked.subject())  # before any model runs
    bound = body.bound()  # the model and parameters: an approval binds them too
    request_hash = check.decider.subject_hash(asked.subject(), bound)
    ids = approval_ids(request)
    if ids and (parked := await in_thread(gw.parking.find, ids)) is not None:
        return await _resume_parked(check, gw, parked, ids, request_hash, body.stream)
    grant: Grant | None = await check.grant(ids[0], asked.subject(), bound) if ids else None
    # A stream's first check answers before the answer's own entry: record on disk up front.
    decision = await check.decide(
        asked, grant.roles if grant else frozenset(), forward=not body.stream, bound=bound
    )
    if decision.failure:
        return check_failed(decision)
    if decision.decision == "deny":
        return denied(decision)
    if decision.decision == "hold":
        return held(decision, await check.open_hold(decision, asked.subject(), bound))
    info: dict[str, Any] = {
        "decision": decision.decision,
        "ledger_index": decision.ledger_index,
        "policies": decision.policies,
        "upstream": upstream.name,
        "ignored_attestations": decision.ignored_attestations,
    }
    headers = {}
    if grant is not None:
        check.granted = grant.roles
        token = await check.issue(grant, asked.subject())
        info |= {"approval_id": grant.approval_id, "action_token": token}
        headers[TOKEN_HEADER] = token
    exchange = Exchange(check, gw, upstream, body, request_hash, info, headers)
    if body.stream:
        exchange.headers |= check.server_timing()
        return await _stream(exchange)
    return await check.settle(await _complete(exchange))


@dataclass
class Exchange:
    """An allowed request on its way to its upstream, and what answering it needs."""

    check: Check
    gw: ChatGateway
    upstream: Upstream
    body: ChatRequest
    request_hash: str
    info: dict[str, Any]  # the request's side of the answer's `redline` field
    headers: dict[str, str]


async def _complete(ex: Exchange) -> Response:
    """Forward an allowed request, then decide on the answer: what the client may see."""
    check = ex.check
    try:
        sent = time.perf_counter()
        raw = await ex.upstream.complete(ex.body.upstream_body())
        check.stages.append(("upstream", (time.perf_counter() - sent) * 1000))
        completion = _parse(ex.upstream, raw)
    except UpstreamError as exc:
        await check.record_upstream_failure(
            ex.info["ledger_index"], ex.upstream.name, exc.status, exc.code
        )
        return error_response(exc.status, exc.code, str(exc))
    items = items_of(completion, check)
    if failure := await decide_items(check, items):
        return check_failed(failure)
    if withheld(items):
        parked = Parked(completion, items, ex.request_hash, check.principal.id, stream=False)
        await in_thread(ex.gw.parking.park, parked)
    headers = ex.headers | check.server_timing()
    return JSONResponse(render(completion, items, ex.info), headers=headers)


def _parse(upstream: Upstream, raw: dict[str, Any]) -> ChatCompletion:
    try:
        return ChatCompletion.model_validate(raw)
    except ValidationError:
        log.warning("upstream %s answered a malformed completion", upstream.name)
        raise UpstreamError(
            502,
            "upstream_malformed",
            f"upstream {upstream.name!r} answered something that is not a chat "
            "completion; nothing was returned unchecked",
        ) from None


async def _stream(ex: Exchange) -> Response:
    stack = AsyncExitStack()
    try:
        events = await stack.enter_async_context(ex.upstream.stream(ex.body.upstream_body()))
    except UpstreamError as exc:
        await stack.aclose()
        await ex.check.record_upstream_failure(
            ex.info["ledger_index"], ex.upstream.name, exc.status, exc.code
        )
        return error_response(exc.status, exc.code, str(exc))
    checker = StreamChecker(ex.check, ex.gw.parking, ex.request_hash, ex.info)
    return StreamingResponse(
        checker.run(events, stack.aclose),
        media_type="text/event-stream",
        headers={"cache-control": "no-cache", **ex.headers},
    )


async def _resume_parked(
    check: Check, gw: ChatGateway, parked: Parked, ids: list[str], request_hash: str, stream: bool
) -> Response:
    """The request was answered before, with parts withheld: release the approved ones."""
    if parked.request_hash != request_hash or parked.principal != check.principal.id:
        return error_response(
            403,
            "approval_mismatch",
            "This approval id belongs to another request or requester; repeat "
            "the identical request that was held.",
        )
    try:
        failure = await release(check, parked, ids)
    finally:  # what was released stays released, even if a later id was refused
        await in_thread(gw.parking.save, parked)
    if failure:
        return check_failed(failure)
    info = {"decision": "allow", "resumed": True, "approval_ids": ids}
    body = render(parked.completion, parked.items, info)
    headers = {APPROVAL_HEADER: ",".join(ids)}
    if not stream:
        return JSONResponse(body, headers=headers)
    return StreamingResponse(_replay(body), media_type="text/event-stream", headers=headers)


async def _replay(body: dict[str, Any]) -> Any:
    """A released answer as a short stream: one content chunk and one final chunk a choice."""
    base = {k: body[k] for k in ("id", "created", "model")} | {"object": "chat.completion.chunk"}
    for choice in body["choices"]:
        msg = choice["message"]
        delta: dict[str, Any] = {"role": "assistant", "content": msg.get("content") or ""}
        if msg.get("tool_calls"):
            delta["tool_calls"] = [{"index": i, **c} for i, c in enumerate(msg["tool_calls"])]
        yield sse(
            base | {"choices": [{"index": choice["index"], "delta": delta, "finish_reason": None}]}
        )
        yield sse(
            base
            | {
                "choices": [
                    {
                        "index": choice["index"],
                        "delta": {},
                        "finish_reason": choice.get("finish_reason"),
                    }
                ],
                "redline": body["redline"],
            }
        )
    yield sse("[DONE]")
