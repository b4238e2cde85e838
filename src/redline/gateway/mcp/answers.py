"""What the agent gets back from Redline: tool errors that explain, and checked results.

Every refusal is an MCP tool error (`isError: true`), so the agent's model reads why: the
deciding clauses, and for a hold the approval id and how to resume. The decision itself
(no evidence text: it may quote content) is in the result's `_meta["redline/decision"]`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import mcp_types as types

from redline.decision import Decision
from redline.gateway.chat.check import clauses, summary
from redline.gateway.mcp.gateway import APPROVAL_META, DECISION_META, RESULT_META
from redline.subject import MAX_TEXT_CHARS


def tool_error(text: str, meta: dict[str, Any] | None = None) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(text=text)], is_error=True, meta=meta or None
    )


def refused(name: str, why: str) -> types.CallToolResult:
    """Not decided, because it cannot be: an unknown tool or a malformed call."""
    return tool_error(f"Redline refused the call of {name!r}: {why}")


def denied(name: str, decision: Decision) -> types.CallToolResult:
    return tool_error(
        f"Redline denied the call of {name!r} by policy: {clauses(decision)}",
        {DECISION_META: summary(decision)},
    )


def failed(name: str, decision: Decision) -> types.CallToolResult:
    return tool_error(
        f"Redline could not check the call of {name!r} and fails closed: {decision.reason}",
        {DECISION_META: summary(decision)},
    )


def held(name: str, decision: Decision, waited_s: float) -> types.CallToolResult:
    approval_id = decision.approval_id
    release = decision.release.how if decision.release else ""
    if approval_id:
        resume = (
            f"Once approved, repeat the identical call with "
            f'_meta {{"{APPROVAL_META}": "{approval_id}"}}.'
        )
    else:
        resume = "No approval could be opened, so this call cannot be approved here."
    waited = f" Waited {waited_s:g} s for a decision." if waited_s else ""
    text = (
        f"Redline held the call of {name!r} for human approval"
        + (f" (approval {approval_id})" if approval_id else "")
        + f": {clauses(decision).rstrip('.')}. {release} {resume}{waited}"
    )
    meta = {
        DECISION_META: summary(decision),
        APPROVAL_META: approval_id,
        "redline/resume": {"meta_key": APPROVAL_META, "value": approval_id, "how": resume},
    }
    return tool_error(" ".join(text.split()), meta)


def upstream_failed(name: str, decision: Decision, why: str) -> types.CallToolResult:
    return tool_error(
        f"The call of {name!r} was allowed and recorded (ledger entry {decision.ledger_index}), "
        f"but the tool server failed, so its outcome is unknown: {why}",
        {DECISION_META: summary(decision)},
    )


@dataclass
class ResultText:
    """What a tool result says, as one text to decide on, and what cannot be read."""

    text: str
    unreadable: list[str] = field(default_factory=list)  # block kinds Redline cannot check


def _block_text(block: types.ContentBlock) -> str | None:
    if isinstance(block, types.TextContent):
        return block.text
    if isinstance(block, types.ResourceLink):
        return " ".join(filter(None, [block.name, block.title, str(block.uri), block.description]))
    if isinstance(block, types.EmbeddedResource) and isinstance(
        block.resource, types.TextResourceContents
    ):
        return block.resource.text
    return None


def result_text(result: types.CallToolResult) -> ResultText:
    parts: list[str] = []
    unreadable: list[str] = []
    for block in result.content:
        text = _block_text(block)
        if text is None:
            unreadable.append(block.type)
        elif text:
            parts.append(text)
    if result.structured_content is not None:
        parts.append(json.dumps(result.structured_content, ensure_ascii=False, sort_keys=True))
    return ResultText("\n".join(parts), unreadable)


def too_large(text: str) -> str | None:
    if len(text) > MAX_TEXT_CHARS:
        return (
            f"the tool's result is {len(text)} characters; Redline checks at most "
            f"{MAX_TEXT_CHARS}, so it is withheld"
        )
    return None


def checked(
    name: str, result: types.CallToolResult, call: Decision, answer: Decision | None
) -> types.CallToolResult:
    """The result as released: readable blocks only, Redline's decisions in `_meta`."""
    kept = [b for b in result.content if _block_text(b) is not None]
    dropped = len(result.content) - len(kept)
    if dropped:
        kept.append(
            types.TextContent(
                text=f"Redline removed {dropped} content block(s) of {name!r} it cannot check "
                "(images, audio, binary resources)."
            )
        )
    meta = {k: v for k, v in (result.meta or {}).items() if not k.startswith("redline/")}
    meta[DECISION_META] = summary(call)
    if answer is not None:
        meta[RESULT_META] = summary(answer)
    return result.model_copy(update={"content": kept, "meta": meta})


def withheld(name: str, call: Decision, answer: Decision) -> types.CallToolResult:
    verb = "denied" if answer.decision == "deny" else "held"
    why = answer.reason if answer.failure else clauses(answer)
    text = (
        f"The call of {name!r} ran (ledger entry {call.ledger_index}), but Redline withheld its "
        f"result: {verb} by {why}"
    )
    return tool_error(text, {DECISION_META: summary(call), RESULT_META: summary(answer)})
