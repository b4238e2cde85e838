"""The effector's own check: a protected call runs only with Redline's token for exactly it.

    from mcp.server.mcpserver import MCPServer
    from redline.effector import Effector

    server = MCPServer("fires")
    Effector("approval-signing.pub.pem", spent="var/spent-tokens").protect(server, "engage_target")

The token (`_meta["redline/action_token"]`) is checked offline against Redline's public key
before the tool runs; this module needs only the `mcp` SDK and `cryptography`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import mcp_types as types
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from mcp.server import Server
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import MCPServer

from redline.approvals.token import SpentTokens, load_public_key, verify_action_token
from redline.errors import VerificationError

log = logging.getLogger("redline.effector")

TOKEN_META = "redline/action_token"  # noqa: S105  # a _meta key, not a secret


class EffectorRefused(VerificationError):
    """A protected tool call without a valid, unspent action token for exactly this call."""

    code = "effector_refused"


class Effector:
    """Checks action tokens for the protected tools of one tool server.

    `public_key`: Redline's Ed25519 public key (PEM text or bytes, a PEM file's path, or the
    key). `spent`: the file of spent approval ids, kept across restarts (a token acts once);
    None keeps them in memory only. `deployments`: accept tokens of these deployments only."""

    def __init__(
        self,
        public_key: Ed25519PublicKey | bytes | str | Path,
        spent: str | Path | SpentTokens | None = None,
        deployments: Iterable[str] | None = None,
    ) -> None:
        if isinstance(public_key, str) and not public_key.lstrip().startswith("-----"):
            public_key = Path(public_key)
        self.public_key = load_public_key(public_key)
        self.spent = spent if isinstance(spent, SpentTokens) else SpentTokens(spent)
        self.deployments = frozenset(deployments) if deployments is not None else None

    def check(
        self, name: str, arguments: Mapping[str, Any], meta: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        """The token's payload, once the call may run; raises EffectorRefused.

        1. The call carries a token in `_meta["redline/action_token"]`.
        2. Redline's key signed it, for this very tool and these very arguments (their
           canonical SHA-256), and it has not expired.
        3. It is for a deployment this effector accepts (when it names any).
        4. It was not used before; it is spent now, before the tool runs."""
        token = (meta or {}).get(TOKEN_META)
        if not isinstance(token, str) or not token:
            raise EffectorRefused(
                f"{name!r} needs Redline's action token in _meta[{TOKEN_META!r}]; got none"
            )
        action = {"name": name, "arguments": dict(arguments)}
        try:
            payload = verify_action_token(token, action, self.public_key)
        except VerificationError as exc:
            raise EffectorRefused(str(exc)) from exc
        if self.deployments is not None and payload["deployment"] not in self.deployments:
            raise EffectorRefused(
                f"the token is for deployment {payload['deployment']!r}; "
                f"this effector accepts {sorted(self.deployments)}"
            )
        try:
            self.spent.spend(str(payload["approval_id"]))
        except VerificationError as exc:
            raise EffectorRefused(str(exc)) from exc
        return payload

    def middleware(self, tools: Iterable[str]) -> _Guard:
        return _Guard(self, frozenset(tools))

    def protect(self, server: Server[Any] | MCPServer, *tools: str) -> None:
        """Check every call of `tools` on `server` before its handler runs."""
        if not tools:
            raise ValueError("name the tools to protect")
        server.middleware.append(self.middleware(tools))


class _Guard:
    """The `mcp` SDK server middleware that runs Effector.check on protected calls."""

    def __init__(self, effector: Effector, tools: frozenset[str]) -> None:
        self.effector = effector
        self.tools = tools

    async def __call__(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        params = ctx.params or {}
        name = params.get("name")
        if ctx.method != "tools/call" or name not in self.tools:
            return await call_next(ctx)
        arguments = params.get("arguments") or {}
        try:
            if not isinstance(arguments, Mapping):
                raise EffectorRefused("the call's arguments are not an object")
            payload = self.effector.check(str(name), arguments, params.get("_meta"))
        except EffectorRefused as exc:
            log.warning("refused %s: %s", name, exc)
            return types.CallToolResult(
                content=[types.TextContent(text=f"Redline effector refused {name!r}: {exc}")],
                is_error=True,
            )
        log.info("accepted %s under approval %s", name, payload["approval_id"])
        return await call_next(ctx)
