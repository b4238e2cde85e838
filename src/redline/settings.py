"""Server settings: command-line options over an optional TOML file over defaults.

The deployments (tenants) are set here by the server's administrator, never by a client:
each names its policy packs and which principals it trusts to attest what.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from redline.errors import InputError


class DeploymentConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    packs: list[str] = Field(default_factory=lambda: ["provider-redlines"])
    # principal ids or "role:NAME" trusted for each attestation; anyone else's is ignored
    attesters: dict[str, list[str]] = Field(default_factory=dict)
    upstreams: list[str] | None = None  # None: every configured upstream


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
    upstreams: dict[str, Any] = Field(default_factory=dict)  # read by the chat gateway

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
