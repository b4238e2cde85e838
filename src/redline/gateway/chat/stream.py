"""Streaming: no token reaches the client before it has been checked.

Upstream deltas are buffered per choice. The first window is checked once FIRST_WINDOW
characters and a word boundary are pending; later ones at a sentence boundary (at least
MIN_WINDOW characters) or at MAX_WINDOW. Each check decides on the whole text so far, then
releases the checked text, a sentence only once it was checked whole. Tool-call deltas are
decided when the choice finishes. A denied window cuts the stream with a final chunk
(finish_reason content_filter, a `redline` field saying why) and [DONE]; a held one parks
the rest of the answer under its approval id and ends the same way. A failure mid-stream
ends with an error event in the one shape.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from redline.decision import Decision
from redline.gateway.chat.check import Check, clauses, summary
from redline.gateway.chat.models import (
    AssistantMessage,
    ChatChunk,
    ChatCompletion,
    Choice,
    FunctionOut,
    ToolCallOut,
)
from redline.gateway.chat.parking import Parked, Parking, withheld
from redline.gateway.chat.tools import Item, decide_items, items_of
from redline.gateway.chat.upstream import UpstreamError
from redline.gateway.errors import error_body
from redline.gateway.threads import in_thread
from redline.subject import DecideRequest

# A few words: enough to judge what the answer starts to say, and each later window is
# checked with everything released before it as context, so a short first one gives up
# little while it keeps the added time to first token to a few upstream chunks.
FIRST_WINDOW = 24
MIN_WINDOW = 40
MAX_WINDOW = 200
_SENTENCE_END = re.compile(r"[.!?;:](\s|$)|\n")


def sse(data: dict[str, Any] | str) -> bytes:
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return f"data: {text}\n\n".encode()


@dataclass
class ChoiceState:
    index: int
    released: str = ""
    pending: str = ""
    tools: dict[int, ToolCallOut] = field(default_factory=dict)
    finish: str | None = None
    done: bool = False

    def add_tool_delta(self, delta: Any) -> None:
        call = self.tools.setdefault(delta.index, ToolCallOut(function=FunctionOut()))
        if delta.id:
            call.id = delta.id
        if delta.type:
            call.type = delta.type
        if delta.function is not None:
            call.function.name += delta.function.name or ""
            call.function.arguments += delta.function.arguments or ""

    def window_ready(self) -> bool:
        if len(self.pending) >= MAX_WINDOW:
            return True
        if not self.released and len(self.pending) >= FIRST_WINDOW:
            return " " in self.pending.strip() or "\n" in self.pending.strip()
        return len(self.pending) >= MIN_WINDOW and _SENTENCE_END.search(self.pending) is not None

    def split(self, final: bool) -> tuple[str, str]:
        """(text to release now, tail kept back). After the first window, whole sentences
        only: a sentence's start is not released before the sentence has been checked
        whole. Never half a word unless final."""
        if final:
            return self.pending, ""
        if self.released:
            ends = [m.end() for m in _SENTENCE_END.finditer(self.pending)]
            if ends:
                return self.pending[: ends[-1]], self.pending[ends[-1] :]
        cut = max(self.pending.rfind(" "), self.pending.rfind("\n"))
        if cut <= 0:
            return self.pending, ""
        return self.pending[: cut + 1], self.pending[cut + 1 :]

    def message(self) -> AssistantMessage:
        calls = [self.tools[k] for k in sorted(self.tools)] or None
        return AssistantMessage(content=(self.released + self.pending) or None, tool_calls=calls)


class StreamChecker:
    def __init__(
        self, check: Check, parking: Parking, request_hash: str, request_info: dict[str, Any]
    ) -> None:
        self.check = check
        self.parking = parking
        self.request_hash = request_hash
        self.request_info = request_info
        self.states: dict[int, ChoiceState] = {}
        self.template: dict[str, Any] = {}
        self.holding = False  # a window was held: collect the rest, release nothing more
        self.failed = False  # a check could not run: the stream ended with an error event

    def chunk(
        self,
        index: int,
        delta: dict[str, Any],
        finish: str | None = None,
        redline: dict[str, Any] | None = None,
    ) -> bytes:
        body: dict[str, Any] = {
            **self.template,
            "object": "chat.completion.chunk",
            "choices": [{"index": index, "delta": delta, "finish_reason": finish}],
        }
        if redline is not None:
            body["redline"] = redline
        return sse(body)

    async def run(
        self, events: AsyncIterator[dict[str, Any]], close: Callable[[], Any]
    ) -> AsyncIterator[bytes]:
        try:
            async for out in self._run(events):
                yield out
        except UpstreamError as exc:
            info = self.request_info
            await self.check.record_upstream_failure(
                info.get("ledger_index"), str(info.get("upstream", "")), exc.status, exc.code
            )
            yield sse(error_body(exc.status, exc.code, str(exc)))
        finally:
            await close()

    async def _run(self, events: AsyncIterator[dict[str, Any]]) -> AsyncIterator[bytes]:
        async for raw in events:
            try:
                chunk = ChatChunk.model_validate(raw)
            except ValidationError:
                raise UpstreamError(
                    502,
                    "upstream_malformed",
                    "upstream sent a malformed stream chunk; the stream was cut",
                ) from None
            self.template = {"id": chunk.id, "created": chunk.created, "model": chunk.model}
            for choice in chunk.choices:
                st = self.states.setdefault(choice.index, ChoiceState(choice.index))
                if st.done:
                    continue
                d = choice.delta
                if d.role and not (st.released or st.pending) and not self.holding:
                    yield self.chunk(st.index, {"role": d.role, "content": ""})
                st.pending += d.content or ""
                for tc in d.tool_calls or ():
                    st.add_tool_delta(tc)
                st.finish = choice.finish_reason or st.finish
                if self.holding:
                    continue
                if choice.finish_reason or st.window_ready():
                    async for out in self._window(st, final=bool(choice.finish_reason)):
                        yield out
                    if self.failed:
                        return
                if st.finish and not st.done and not self.holding:
                    async for out in self._finish(st):
                        yield out
                    if self.failed:
                        return
        if self.holding:
            async for out in self._park_all():
                yield out
            if self.failed:
                return
        else:
            for st in self.states.values():
                if st.done:
                    continue
                async for out in self._window(st, final=True):
                    yield out
                if self.failed:
                    return
                if not st.done:
                    async for out in self._finish(st):
                        yield out
        yield sse("[DONE]")

    def _fail(self, decision: Decision) -> bytes:
        self.failed = True
        return sse(
            error_body(
                502,
                "policy_check_failed",
                f"Redline could not check the streamed answer and cut it: {decision.reason}",
                {"decision": summary(decision)},
            )
        )

    async def _window(self, st: ChoiceState, final: bool) -> AsyncIterator[bytes]:
        if not st.pending:
            return
        text = st.released + st.pending
        request = DecideRequest(text=text, context=self.check.context)
        decision = await self.check.decide(request, self.check.granted, answer=True)
        if decision.failure:
            yield self._fail(decision)
        elif decision.decision == "deny":
            st.done = True
            info = {
                "cut": True,
                "reason": f"Denied by policy: {clauses(decision)}",
                "decision": summary(decision),
                "request": self.request_info,
            }
            yield self.chunk(st.index, {}, "content_filter", info)
        elif decision.decision == "hold":
            self.holding = True  # collect the rest; the whole answer is parked at the end
        else:
            now, st.pending = st.split(final)
            st.released += now
            if now:
                yield self.chunk(st.index, {"content": now})

    async def _finish(self, st: ChoiceState) -> AsyncIterator[bytes]:
        """The choice is complete: decide its tool calls, release what is allowed, end it."""
        st.done = True
        completion = self._completion([st])
        items = items_of(completion, self.check, text=False)
        if failure := await decide_items(self.check, items):
            yield self._fail(failure)
            return
        for item in items:
            if item.status == "allowed":
                call = st.tools[sorted(st.tools)[item.position]]
                delta = {"tool_calls": [{"index": item.position, **call.model_dump(mode="json")}]}
                yield self.chunk(st.index, delta)
        await self._park(items)
        yield self._final(st, items)

    def _final(self, st: ChoiceState, items: list[Item]) -> bytes:
        filtered = [i for i in items if i.status != "allowed"]
        finish = st.finish or "stop"
        if (
            filtered
            and len(filtered) == len([i for i in items if i.kind == "tool_call"])
            and not st.released
        ):
            finish = "content_filter"
        if any(i.kind == "text" and i.status != "allowed" for i in filtered):
            finish = "content_filter"
        if filtered:
            info = {"request": self.request_info, "output": [i.public() for i in items]}
            return self.chunk(st.index, {}, finish, info)
        return self.chunk(st.index, {}, finish)

    def _completion(self, states: list[ChoiceState]) -> ChatCompletion:
        choices = [
            Choice(index=s.index, message=s.message(), finish_reason=s.finish) for s in states
        ]
        return ChatCompletion(
            id=self.template.get("id", "chatcmpl-redline"),
            created=self.template.get("created", 0),
            model=self.template.get("model", ""),
            choices=choices,
        )

    async def _park(self, items: list[Item]) -> None:
        if withheld(items):
            states = list(self.states.values())
            parked = Parked(
                self._completion(states),
                items,
                self.request_hash,
                self.check.principal.id,
                stream=True,
            )
            await in_thread(self.parking.park, parked)

    async def _park_all(self) -> AsyncIterator[bytes]:
        """A window was held: decide the whole answer as a non-streamed one and park it."""
        states = [s for s in self.states.values() if not s.done]
        completion = self._completion(states)
        items = items_of(completion, self.check)
        if failure := await decide_items(self.check, items):
            yield self._fail(failure)
            return
        await self._park(items)
        for st in states:
            st.done = True
            info = {
                "request": self.request_info,
                "withheld_after": len(st.released),
                "output": [i.public() for i in items if i.choice == st.index],
            }
            yield self.chunk(st.index, {}, "content_filter", info)
