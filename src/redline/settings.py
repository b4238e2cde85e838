"""Server settings: command-line options over an optional TOML file over defaults.

The deployments (tenants) are set here by the server's administrator, never by a client:
each names its policy packs and which principals it trusts to attest what.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from redline.errors import InputError


class DeploymentConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    packs: list[str] = Field(default_factory=lambda: ["provider-redlines"])
    # principal ids or "role:NAME" trusted for each attestation; anyone else's is ignored
    attesters: dict[str, list[str]] = Field(default_factory=dict)
    upstreams: list[str] | None = None  # None: every configured upstream
    mcp_servers: list[str] | None = None  # None: every configured MCP tool server
    # approvals: rule ids ("rule" or "pack:rule") needing two distinct approvers; expiry
    two_person_rules: list[str] = Field(default_factory=list)
    approval_ttl_s: int | None = Field(default=None, gt=0)  # None: Settings.approval_ttl_s


class UpstreamConfig(BaseModel):
    """An OpenAI-compatible model server the chat gateway forwards to.

    Its `packs` are the provider's: they travel with its models and compose with the
    deployment's own packs for every request routed here (the most restrictive wins).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str = Field(min_length=1)  # e.g. https://api.example.com/v1
    api_key_env: str | None = None  # the environment variable holding its key, never the key
    models: list[str] = Field(min_length=1)
    packs: list[str] = Field(default_factory=list)
    timeout_s: float = Field(default=60.0, gt=0)  # per read; a stream's idle limit
    connect_timeout_s: float = Field(default=5.0, gt=0)


class McpServerConfig(BaseModel):
    """An MCP tool server the MCP gateway connects to: a subprocess spoken to over stdio
    (`command`), or a Streamable HTTP endpoint (`url`). Its `packs` travel with its tools
    and compose with the deployment's packs, as an upstream model's do."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    command: str | None = None  # stdio: the executable, started once and kept running
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)  # extra environment for the subprocess
    cwd: str | None = None
    url: str | None = None  # Streamable HTTP: e.g. http://127.0.0.1:9000/mcp
    # HTTP header name -> the environment variable holding its value, never the value
    headers_env: dict[str, str] = Field(default_factory=dict)
    packs: list[str] = Field(default_factory=list)
    timeout_s: float = Field(default=60.0, gt=0)  # one tool call
    connect_timeout_s: float = Field(default=10.0, gt=0)

    @model_validator(mode="after")
    def _one_transport(self) -> McpServerConfig:
        if (self.command is None) == (self.url is None):
            raise ValueError("give exactly one of command (stdio) or url (Streamable HTTP)")
        return self


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = 8080
    db: str = Field(default_factory=lambda: os.environ.get("REDLINE_DB", "./redline.db"))
    policy_dir: Path | None = Field(
        default_factory=lambda: Path(p) if (p := os.environ.get("REDLINE_POLICY_DIR")) else None
    )
    classifier: str = Field(default_factory=lambda: os.environ.get("REDLINE_CLASSIFIER", "auto"))
    max_body_bytes: int = 1_000_000
    max_json_depth: int = 32
    deployments: dict[str, DeploymentConfig] = Field(
        default_factory=lambda: {"default": DeploymentConfig()}
    )
    default_deployment: str = "default"
    upstreams: dict[str, UpstreamConfig] = Field(default_factory=dict)  # the chat gateway's
    mcp_servers: dict[str, McpServerConfig] = Field(default_factory=dict)  # the MCP gateway's
    # MCP: how long a held tool call waits for its approval before answering; 0: at once
    mcp_hold_wait_s: float = Field(default=0.0, ge=0, le=3600)
    # approvals and action tokens (issue 5); identity and hardening (issue 7)
    approval_ttl_s: int = Field(default=900, gt=0)
    token_ttl_s: int = Field(default=900, gt=0)
    min_review_s: float = Field(default=10.0, ge=0)  # faster approvals are flagged
    approval_keys_dir: Path = Field(
        default_factory=lambda: Path(os.environ.get("REDLINE_KEYS_DIR", "./var/keys"))
    )
    # content at rest (issue 18): "encrypted" seals the ledger's content store, approvals'
    # content and parked answers with AES-GCM under `content_key_file` (created on first
    # start, 0600); "none" keeps no content in the ledger (only its commitment), while
    # approvals and parked answers, which a human must still read, stay encrypted.
    content_at_rest: Literal["encrypted", "none"] = "encrypted"
    content_key_file: Path | None = None  # None: $REDLINE_CONTENT_KEY, else KEYS_DIR/content.key

    def content_key_path(self) -> Path:
        if self.content_key_file is not None:
            return self.content_key_file
        configured = os.environ.get("REDLINE_CONTENT_KEY")
        return Path(configured) if configured else self.approval_keys_dir / "content.key"

    rate_limit_per_minute: float = 600.0  # per principal; 0 switches the limit off
    rate_limit_burst: int = Field(default=120, ge=1)
    console_session_s: int = Field(default=8 * 3600, gt=0)  # a console sign-in lasts this long
    # the classification budget (gateway/budget.py): per request, and per principal
    max_classified_chars: int = Field(default=100_000, gt=0)
    max_classified_messages: int = Field(default=200, gt=0)
    classified_chars_per_minute: float = 1_200_000.0  # 0 switches the per-principal limit off
    classified_chars_burst: int = Field(default=400_000, gt=0)

    @classmethod
    def from_file(cls, path: Path, **overrides: Any) -> Settings:
        try:
            raw = tomllib.loads(path.read_text("utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise InputError(f"cannot read config {path}: {exc}") from exc
        raw.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            raise InputError(f"invalid config {path}: {exc}") from exc
