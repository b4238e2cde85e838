"""The OpenAI Chat Completions request, response and stream-chunk shapes.

Only the fields Redline reads are typed; everything else passes through untouched
(`extra="allow"`), so new OpenAI parameters reach the upstream unchanged.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from redline.subject import MAX_MESSAGES, ChatMessage


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ChatRequest(_Open):
    model: str = Field(min_length=1, max_length=256)
    messages: list[ChatMessage] = Field(min_length=1, max_length=MAX_MESSAGES)
    stream: bool = False

    def upstream_body(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class FunctionOut(_Open):
    name: str = ""
    arguments: str = ""


class ToolCallOut(_Open):
    id: str = ""
    type: str = "function"
    function: FunctionOut


class AssistantMessage(_Open):
    role: str = "assistant"
    content: str | None = None
    tool_calls: list[ToolCallOut] | None = None


class Choice(_Open):
    index: int
    message: AssistantMessage
    finish_reason: str | None = None


class ChatCompletion(_Open):
    id: str
    object: str = "chat.completion"
    created: int = 0
    model: str
    choices: list[Choice]


class DeltaFunction(_Open):
    name: str | None = None
    arguments: str | None = None


class DeltaToolCall(_Open):
    index: int = 0
    id: str | None = None
    type: str | None = None
    function: DeltaFunction | None = None


class Delta(_Open):
    role: str | None = None
    content: str | None = None
    tool_calls: list[DeltaToolCall] | None = None


class ChunkChoice(_Open):
    index: int = 0
    delta: Delta = Field(default_factory=Delta)
    finish_reason: str | None = None


class ChatChunk(_Open):
    id: str
    object: str = "chat.completion.chunk"
    created: int = 0
    model: str
    choices: list[ChunkChoice] = Field(default_factory=list)


class ModelCard(BaseModel):
    id: str
    object: str = "model"
    created: int = 0
    owned_by: str


class ModelList(BaseModel):
    object: str = "list"
    data: list[ModelCard]
