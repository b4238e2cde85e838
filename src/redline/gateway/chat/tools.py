"""Checking an upstream answer: its text and every tool call, each decided on its own.

A denied text is replaced by a refusal naming the clause (finish_reason content_filter);
a denied tool call is removed with an explanation; a held text or tool call is withheld
and parked under its approval id, so that repeating the request with
`Redline-Approval-Id` releases exactly what was held, with its action token, once approved.
Everything Redline did is reported in the response's `redline` field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from redline.classify.segments import parse_arguments
from redline.decision import Decision
from redline.gateway.chat.check import Check, clauses, summary
from redline.gateway.chat.models import ChatCompletion, ToolCallOut
from redline.subject import DecideRequest, ToolCall

Status = Literal["allowed", "withheld", "removed", "replaced", "released"]
SHOWN: frozenset[str] = frozenset({"allowed", "released"})


@dataclass
class Item:
    """One checked piece of an answer: the text of a choice, or one of its tool calls."""

    choice: int
    kind: Literal["text", "tool_call"]
    position: int  # the tool call's position in the choice; 0 for text
    request: DecideRequest
    decision: Decision | None = None
    status: Status = "allowed"
    approval_id: str | None = None
    action_token: str | None = None

    def explain(self) -> str:
        what = "text answer" if self.kind == "text" else f"tool call {self.name()!r}"
        if self.decision is None:
            return f"{what} allowed"
        if self.status == "released":
            return f"{what} released after approval {self.approval_id}"
        if self.status == "withheld":
            wait = f"approval {self.approval_id}" if self.approval_id else "an approval"
            return f"Redline withheld the {what} pending {wait}: {clauses(self.decision)}"
        if self.status in ("removed", "replaced"):
            return f"Redline removed the {what}: denied by {clauses(self.decision)}"
        return f"{what} allowed"

    def name(self) -> str:
        return self.request.tool_call.name if self.request.tool_call else ""

    def public(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "choice": self.choice,
            "kind": self.kind,
            "status": self.status,
            "explanation": self.explain(),
        }
        if self.kind == "tool_call":
            out |= {"position": self.position, "name": self.name()}
        if self.approval_id:
            out["approval_id"] = self.approval_id
        if self.action_token:
            out["action_token"] = self.action_token
        if self.decision is not None:
            out["decision"] = summary(self.decision)
        return out


def items_of(completion: ChatCompletion, check: Check, *, text: bool = True) -> list[Item]:
    items: list[Item] = []
    for choice in completion.choices:
        msg = choice.message
        if text and msg.content:
            req = DecideRequest(text=msg.content, context=check.context)
            items.append(Item(choice.index, "text", 0, req))
        for pos, call in enumerate(msg.tool_calls or ()):
            items.append(Item(choice.index, "tool_call", pos, _tool_request(call, check)))
    return items


def _tool_request(call: ToolCallOut, check: Check) -> DecideRequest:
    try:
        tool = ToolCall(
            name=call.function.name or "unnamed", arguments=parse_arguments(call.function.arguments)
        )
    except ValidationError:
        # Too large or malformed to decide on: decided as a text, which the caller sees.
        return DecideRequest(
            text=f"{call.function.name}: {call.function.arguments}"[:200_000], context=check.context
        )
    return DecideRequest(tool_call=tool, context=check.context)


async def decide_items(check: Check, items: list[Item]) -> Decision | None:
    """Decide every item (one batch, one ledger write); apply allow/hold/deny. Returns a
    fail-closed decision if any check could not run: then nothing may be returned."""
    # A text answer to an approved request carries that approval; a tool call never does:
    # it is an action, approved on its own (its action token binds its exact content).
    roles = [check.granted if i.kind == "text" else frozenset() for i in items]
    answers = [i.kind == "text" for i in items]
    decisions = await check.decide_many([i.request for i in items], roles, answers)
    for item, decision in zip(items, decisions, strict=True):
        item.decision = decision
        if decision.failure:
            return decision
        if decision.decision == "deny":
            item.status = "replaced" if item.kind == "text" else "removed"
        elif decision.decision == "hold":
            item.status = "withheld"
            item.approval_id = await check.open_hold(decision, item.request.subject())
    return None


def render(
    completion: ChatCompletion, items: list[Item], request_info: dict[str, Any]
) -> dict[str, Any]:
    """The answer the client gets: the upstream's, less what Redline removed or withheld."""
    body = completion.model_dump(mode="json", exclude_none=True)
    by_key = {(i.choice, i.kind, i.position): i for i in items}
    for choice, out in zip(completion.choices, body["choices"], strict=True):
        msg = out["message"]
        notes: list[str] = []
        text = by_key.get((choice.index, "text", 0))
        if text is not None and text.status not in SHOWN:
            msg["content"] = text.explain()
            out["finish_reason"] = "content_filter"
        calls = choice.message.tool_calls or []
        kept = []
        for pos, call in enumerate(calls):
            item = by_key.get((choice.index, "tool_call", pos))
            if item is None or item.status in SHOWN:
                kept.append(call.model_dump(mode="json", exclude_none=True))
            else:
                notes.append(item.explain())
        if calls:
            msg["tool_calls"] = kept
            if not kept:
                del msg["tool_calls"]
                out["finish_reason"] = "content_filter"
                msg["content"] = "\n".join(filter(None, [msg.get("content"), *notes]))
    body["redline"] = {
        "request": request_info,
        "output": [i.public() for i in items if i.decision is not None],
    }
    return body
