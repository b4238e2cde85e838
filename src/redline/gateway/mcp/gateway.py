"""What the MCP gateway shares: the server's services, the tool servers, and the deciders.

A call to a tool of server S, by a principal of deployment D, is decided by D's packs plus
S's packs (a tool provider's packs travel with its tools, as a model provider's do with
its models); the most restrictive effect wins and every deciding pack is named.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from redline.auth.principal import Principal
from redline.classify.rules import RuleClassifier
from redline.classify.types import Classifier
from redline.decider import Decider
from redline.errors import InputError
from redline.gateway.mcp.upstream import ToolServers
from redline.gateway.services import Services
from redline.settings import Settings
from redline.subject import Context, PrincipalRef

# `_meta` keys of a tools/call: the agent's approval id in, the effector's token out.
APPROVAL_META = "redline/approval_id"
TOKEN_META = "redline/action_token"  # noqa: S105  # a _meta key, not a secret
DECISION_META = "redline/decision"  # on Redline's answers: what was decided, on the ledger
RESULT_META = "redline/result_decision"


@dataclass(frozen=True)
class Caller:
    """Who calls: the authenticated principal and the context its request attests."""

    principal: Principal
    context: Context

    @classmethod
    def of(cls, principal: Principal, context: Context | None = None) -> Caller:
        context = context or Context(
            principal=PrincipalRef(id=principal.id, roles=tuple(sorted(principal.roles))),
            deployment=principal.deployment,
        )
        return cls(principal, context)

    @property
    def deployment(self) -> str:
        return self.principal.deployment


def check_settings(settings: Settings, services: Services) -> None:
    """Fail at start on an unknown tool server or pack, not at the first call."""
    for name, deployment in settings.deployments.items():
        unknown = set(deployment.mcp_servers or ()) - set(settings.mcp_servers)
        if unknown:
            raise InputError(f"deployment {name!r} names unknown MCP servers {sorted(unknown)}")
    for server in settings.mcp_servers.values():
        if server.packs:
            services.registry.select(server.packs)


@dataclass
class McpGateway:
    services: Services
    servers: ToolServers
    # Listing decides on tool definitions with the exact rules only (see listing.py).
    listing_classifier: Classifier = field(default_factory=RuleClassifier)
    _deciders: dict[tuple[str, str, bool], Decider] = field(default_factory=dict)

    @classmethod
    def build(cls, services: Services) -> McpGateway:
        check_settings(services.settings, services)
        return cls(services, ToolServers.from_settings(services.settings.mcp_servers))

    @property
    def settings(self) -> Settings:
        return self.services.settings

    def server_names(self, deployment: str) -> list[str]:
        """The tool servers bound to a deployment, in configuration order."""
        config = self.settings.deployments.get(deployment)
        bound = config.mcp_servers if config is not None else []
        configured = list(self.settings.mcp_servers)
        return configured if bound is None else [n for n in configured if n in bound]

    def decider(self, deployment: str, server: str, *, listing: bool = False) -> Decider:
        """The deployment's packs plus the server's, with the deployment's classifier (a
        call, a result) or the exact rules (`listing`: a tool definition)."""
        key = (deployment, server, listing)
        if key not in self._deciders:
            base = self.services.decider(deployment)
            names = self.settings.mcp_servers[server].packs
            have = {p.name for p in base.packs}
            extra = self.services.registry.select(names) if names else []
            # The deployment's decider with more packs: its store, trust and everything else.
            self._deciders[key] = replace(
                base,
                classifier=self.listing_classifier if listing else base.classifier,
                packs=base.packs + [p for p in extra if p.name not in have],
            )
        return self._deciders[key]
