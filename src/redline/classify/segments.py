"""Turn a subject into labelled, normalised segments: every turn, the system prompt,
tool results and tool calls, plus any text hidden in them under an encoding, decoded
(classify/encodings.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from redline.classify.encodings import decoded_layers
from redline.classify.normalize import normalize
from redline.subject import FunctionDefinition, Subject, ToolCall


@dataclass(frozen=True)
class Segment:
    where: str  # "text", "turn 3 (user)", "tool_call engage_target", "turn 2 (user) decoded"
    text: str
    decoded: bool = False  # text decoded from an encoding (a blob, a shift)


@dataclass(frozen=True)
class ToolUse:
    where: str
    name: str
    arguments: dict[str, Any]


def tool_call_text(name: str, arguments: dict[str, Any]) -> str:
    """A tool call read as text: its name split into words, then argument names and values."""
    words = name.replace("_", " ").replace("-", " ").replace(".", " ")
    return f"{words}: " + json.dumps(arguments, ensure_ascii=False, sort_keys=True)


def tool_definition_text(fn: FunctionDefinition) -> str:
    """A tool definition read as text: what the model is told the tool does and takes."""
    words = fn.name.replace("_", " ").replace("-", " ").replace(".", " ")
    schema = json.dumps(fn.parameters or {}, ensure_ascii=False, sort_keys=True)
    return f"{words}: {fn.description or ''}\n{schema}"


def parse_arguments(raw: str) -> dict[str, Any]:
    """A chat tool call's JSON arguments as a dict; anything else is kept, not dropped."""
    try:
        value = json.loads(raw) if raw else {}
    except json.JSONDecodeError:
        return {"_raw": raw}
    return value if isinstance(value, dict) else {"_value": value}


def _with_blobs(where: str, raw: str) -> list[Segment]:
    out = [Segment(where, normalize(raw))]
    out += [
        Segment(f"{where} decoded ({layer.encoding})", normalize(layer.text), decoded=True)
        for layer in decoded_layers(raw)
    ]
    return [s for s in out if s.text]


def segments(subject: Subject) -> list[Segment]:
    if subject.text is not None:
        return _with_blobs("text", subject.text)
    if subject.tool_call is not None:
        tc = subject.tool_call
        return _with_blobs(f"tool_call {tc.name}", tool_call_text(tc.name, tc.arguments))
    out: list[Segment] = []
    for tool in subject.tools or ():  # read like a system prompt: before the turns
        fn = tool.function
        out += _with_blobs(f"tool definition {fn.name}", tool_definition_text(fn))
    for i, msg in enumerate(subject.messages or (), start=1):
        out += _with_blobs(f"turn {i} ({msg.role})", msg.text())
        for call in msg.tool_calls or ():
            args = parse_arguments(call.function.arguments)
            out += _with_blobs(
                f"turn {i} tool_call {call.function.name}",
                tool_call_text(call.function.name, args),
            )
    return out


def tool_uses(subject: Subject) -> list[ToolUse]:
    """Every tool call the subject carries: the subject itself or calls inside messages."""
    if subject.tool_call is not None:
        return [ToolUse("tool_call", subject.tool_call.name, subject.tool_call.arguments)]
    uses: list[ToolUse] = []
    for i, msg in enumerate(subject.messages or (), start=1):
        for call in msg.tool_calls or ():
            args = parse_arguments(call.function.arguments)
            uses.append(ToolUse(f"turn {i} tool_call", call.function.name, args))
    return uses


def as_tool_call(use: ToolUse) -> ToolCall:
    return ToolCall(name=use.name, arguments=use.arguments)
