"""The OpenAI Chat Completions request, response and stream-chunk shapes.

A request is closed: everything Redline forwards is either decided on or refused. The
messages and the tool definitions are the conversation (classified); the known OpenAI
parameters below pass through; `policy` and any unknown field are refused (400). Answers
stay open (`extra="allow"`), since Redline checks their text and tool calls itself.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from redline.subject import MAX_MESSAGES, MAX_TOOLS, ChatMessage, ToolDefinition

# Not part of what an approval binds: how the answer is delivered, not what is asked.
DELIVERY = ("stream", "stream_options")


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ResponseFormat(BaseModel):
    """`text` or `json_object`; a `json_schema` (whose text the model reads) is refused."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["text", "json_object"]


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1, max_length=256)
    messages: list[ChatMessage] = Field(min_length=1, max_length=MAX_MESSAGES)
    tools: list[ToolDefinition] | None = Field(default=None, max_length=MAX_TOOLS)
    stream: bool = False
    # Known OpenAI parameters that carry no text for the model: they pass through.
    stream_options: dict[str, bool] | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    n: int | None = Field(default=None, ge=1, le=128)
    stop: str | list[str] | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    logit_bias: dict[str, float] | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    seed: int | None = None
    user: str | None = Field(default=None, max_length=256)
    tool_choice: Literal["none", "auto", "required"] | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None
    reasoning_effort: Literal["minimal", "low", "medium", "high"] | None = None
    service_tier: str | None = Field(default=None, max_length=32)
    metadata: dict[str, str] | None = None
    store: bool | None = None
    modalities: list[Literal["text"]] | None = None
    verbosity: Literal["low", "medium", "high"] | None = None
    prompt_cache_key: str | None = Field(default=None, max_length=256)
    safety_identifier: str | None = Field(default=None, max_length=256)

    @model_validator(mode="before")
    @classmethod
    def _no_policy(cls, data: Any) -> Any:
        if isinstance(data, dict) and "policy" in data:
            raise ValueError(
                "`policy` is refused: the packs in force come from the server's configuration "
                "for your deployment, never from the request"
            )
        return data

    def upstream_body(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)

    def bound(self) -> dict[str, Any]:
        """What an approval binds besides the conversation: the model and every parameter."""
        body = self.upstream_body()
        return {k: v for k, v in body.items() if k not in ("messages", "tools", *DELIVERY)}


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
