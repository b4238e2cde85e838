"""What is decided on: a text, a chat conversation or a tool call, plus its attested context."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from redline.canonical import sha256_hex

MAX_TEXT_CHARS = 200_000
MAX_MESSAGES = 500
MAX_ARGUMENT_BYTES = 64_000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ContentPart(BaseModel):
    """One part of a multi-part chat message; only text parts carry classifiable content."""

    model_config = ConfigDict(extra="allow", frozen=True)
    type: str
    text: str | None = Field(default=None, max_length=MAX_TEXT_CHARS)


class FunctionCall(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    name: str = Field(max_length=256)
    arguments: str = Field(default="", max_length=MAX_ARGUMENT_BYTES)


class MessageToolCall(BaseModel):
    """A tool call inside an assistant message, in the OpenAI chat format."""

    model_config = ConfigDict(extra="allow", frozen=True)
    id: str | None = None
    type: str = "function"
    function: FunctionCall


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None
    name: str | None = None
    tool_calls: list[MessageToolCall] | None = None
    tool_call_id: str | None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "\n".join(p.text for p in self.content if p.text)


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
    """Exactly one of text, messages or tool_call."""

    text: str | None = Field(default=None, max_length=MAX_TEXT_CHARS)
    messages: tuple[ChatMessage, ...] | None = Field(default=None, max_length=MAX_MESSAGES)
    tool_call: ToolCall | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Subject:
        given = [k for k in ("text", "messages", "tool_call") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                f"give exactly one of text, messages or tool_call; got {given or 'none'}"
            )
        if self.messages is not None and not self.messages:
            raise ValueError("messages must not be empty")
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
        return Subject(text=self.text, messages=self.messages, tool_call=self.tool_call)
