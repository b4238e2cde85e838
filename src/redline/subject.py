"""What is decided on: a text, a chat conversation or a tool call, plus its attested context."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from redline.canonical import sha256_hex

MAX_TEXT_CHARS = 200_000
MAX_MESSAGES = 500
MAX_ARGUMENT_BYTES = 64_000
MAX_TOOLS = 128


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ContentPart(BaseModel):
    """One part of a multi-part chat message. Only text can be checked, so only text parts
    (and an assistant's refusal) are accepted; an image or audio part is refused (400)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["text", "refusal"]
    text: str | None = Field(default=None, max_length=MAX_TEXT_CHARS)
    refusal: str | None = Field(default=None, max_length=MAX_TEXT_CHARS)


class FunctionCall(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(max_length=256)
    arguments: str = Field(default="", max_length=MAX_ARGUMENT_BYTES)


class MessageToolCall(BaseModel):
    """A tool call inside an assistant message, in the OpenAI chat format."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str | None = None
    type: Literal["function"] = "function"
    function: FunctionCall


class ChatMessage(BaseModel):
    """One chat message. Every field that reaches the model is read and decided on; an
    unknown field is refused (400), and fields the SDK echoes from an answer are accepted
    only empty (`audio`, `function_call`, `annotations`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None
    name: str | None = Field(default=None, max_length=256)
    tool_calls: list[MessageToolCall] | None = None
    tool_call_id: str | None = Field(default=None, max_length=256)
    refusal: str | None = Field(default=None, max_length=MAX_TEXT_CHARS)
    audio: None = None
    function_call: None = None
    annotations: list[None] | None = Field(default=None, max_length=0)

    def text(self) -> str:
        parts: list[str] = []
        if isinstance(self.content, str):
            parts.append(self.content)
        elif self.content is not None:
            parts += [p.text or p.refusal or "" for p in self.content]
        if self.refusal:
            parts.append(self.refusal)
        return "\n".join(p for p in parts if p)


class FunctionDefinition(BaseModel):
    """A tool the model is shown: its name, description and parameter schema are read
    and decided on as part of the conversation."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1, max_length=256)
    description: str | None = Field(default=None, max_length=MAX_TEXT_CHARS)
    parameters: dict[str, Any] | None = None
    strict: bool | None = None

    @model_validator(mode="after")
    def _bounded(self) -> FunctionDefinition:
        size = len(json.dumps(self.parameters or {}, ensure_ascii=False))
        if size > MAX_ARGUMENT_BYTES:
            raise ValueError(f"tool parameters are {size} bytes, limit {MAX_ARGUMENT_BYTES}")
        return self


class ToolDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["function"] = "function"
    function: FunctionDefinition


class ToolCall(_Strict):
    name: str = Field(min_length=1, max_length=256)
    arguments: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _bounded(self) -> ToolCall:
        size = len(json.dumps(self.arguments, ensure_ascii=False))
        if size > MAX_ARGUMENT_BYTES:
            raise ValueError(f"tool-call arguments are {size} bytes, limit {MAX_ARGUMENT_BYTES}")
        return self


class PrincipalRef(_Strict):
    id: str = Field(default="anonymous", min_length=1, max_length=256)
    roles: tuple[str, ...] = ()


class Context(_Strict):
    """Facts the text cannot show, attested by the deploying system (SPEC.md)."""

    principal: PrincipalRef = Field(default_factory=PrincipalRef)
    deployment: str = Field(default="default", max_length=256)
    classification: str = Field(default="", max_length=64)
    purpose: str = Field(default="", max_length=64)
    authority_ref: str | None = Field(default=None, max_length=512)
    senior_review_ref: str | None = Field(default=None, max_length=512)
    us_persons: Literal["true", "false", "unknown"] | bool = "unknown"

    def us_persons_text(self) -> str:
        if isinstance(self.us_persons, bool):
            return "true" if self.us_persons else "false"
        return self.us_persons


class Subject(_Strict):
    """Exactly one of text, messages or tool_call; `tools` (the tool definitions the model
    is shown) only with messages."""

    text: str | None = Field(default=None, max_length=MAX_TEXT_CHARS)
    messages: tuple[ChatMessage, ...] | None = Field(default=None, max_length=MAX_MESSAGES)
    tool_call: ToolCall | None = None
    tools: tuple[ToolDefinition, ...] | None = Field(default=None, max_length=MAX_TOOLS)

    @model_validator(mode="after")
    def _exactly_one(self) -> Subject:
        given = [k for k in ("text", "messages", "tool_call") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                f"give exactly one of text, messages or tool_call; got {given or 'none'}"
            )
        if self.messages is not None and not self.messages:
            raise ValueError("messages must not be empty")
        if self.tools is not None and self.messages is None:
            raise ValueError("tools are given only with messages")
        return self

    @property
    def kind(self) -> str:
        if self.text is not None:
            return "text"
        return "messages" if self.messages is not None else "tool_call"

    def content_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)

    def content_hash(self) -> str:
        """SHA-256 of the canonical JSON of the content: the identity of the thing decided."""
        return sha256_hex(self.content_json())


class DecideRequest(Subject):
    """The `redline check` line and the `POST /v1/decide` body."""

    id: str | int | None = None
    context: Context = Field(default_factory=Context)

    def subject(self) -> Subject:
        return Subject(
            text=self.text, messages=self.messages, tool_call=self.tool_call, tools=self.tools
        )
