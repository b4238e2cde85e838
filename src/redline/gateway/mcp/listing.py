"""tools/list: which tools an agent is shown, each tool definition decided once.

The steps are on `Catalog`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

import mcp_types as types

from redline.canonical import sha256_hex
from redline.decision import DecidedBy, Decision
from redline.gateway.mcp.gateway import Caller, McpGateway
from redline.gateway.mcp.poison import PoisonHit, definition_parts, poison_hits
from redline.gateway.mcp.upstream import UpstreamError
from redline.gateway.threads import in_thread
from redline.subject import ChatMessage, DecideRequest, FunctionCall, MessageToolCall

log = logging.getLogger("redline.gateway.mcp")

POISON_RULE = "mcp.tool-poisoning"
LISTING_META = "redline/listing"
_MAX_DECIDED = 50_000  # cached definition decisions; past it the cache starts over


@dataclass(frozen=True)
class Offered:
    server: str
    tool: types.Tool
    decision: Decision  # allow or hold


@dataclass(frozen=True)
class Withheld:
    server: str
    name: str
    reason: str


@dataclass
class ToolIndex:
    offered: dict[str, Offered] = field(default_factory=dict)
    withheld: dict[str, Withheld] = field(default_factory=dict)
    unreachable: dict[str, str] = field(default_factory=dict)  # server -> why

    def listed(self) -> list[types.Tool]:
        out = []
        for entry in self.offered.values():
            meta = {
                k: v for k, v in (entry.tool.meta or {}).items() if not k.startswith("redline/")
            }
            meta[LISTING_META] = {
                "decision": entry.decision.decision,
                "ledger_index": entry.decision.ledger_index,
            }
            out.append(entry.tool.model_copy(update={"meta": meta}))
        return out


def definition_request(tool: types.Tool, caller: Caller, server: str) -> DecideRequest:
    """The subject a definition is decided on: its texts, and a call with every argument."""
    schema = tool.input_schema or {}
    properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    placeholders = {str(k): f"<{k}>" for k in properties or {}}
    text = f"Tool {tool.name}" + (f" ({tool.title})" if tool.title else "")
    text += f": {tool.description or ''}\nInput schema: {json.dumps(schema, sort_keys=True)}"
    if tool.output_schema:
        text += f"\nOutput schema: {json.dumps(tool.output_schema, sort_keys=True)}"
    call = MessageToolCall(
        function=FunctionCall(name=tool.name, arguments=json.dumps(placeholders))
    )
    return DecideRequest(
        id=f"tools/list {server}/{tool.name}",
        messages=(
            ChatMessage(role="system", content=text),
            ChatMessage(role="assistant", tool_calls=[call]),
        ),
        context=caller.context,
    )


def poisoned(hits: list[PoisonHit]) -> Decision:
    found = "; ".join(h.explain() for h in hits[:3])
    reason = f"the tool definition gives the model instructions ({found}), so it is not offered"
    return Decision(
        decision="deny",
        categories={},
        decided_by=[DecidedBy(policy="redline", rule=POISON_RULE, effect="deny", reason=reason)],
        reason=reason[:500],
    )


def _attested(caller: Caller) -> dict[str, object]:
    """The caller's context less who the principal is: what a listing decision depends on."""
    return caller.context.model_dump(mode="json", exclude={"principal"})


def _clauses(decision: Decision) -> str:
    rules = [d for d in decision.decided_by if d.effect == decision.decision]
    return "; ".join(f"{d.policy} {d.rule}: {d.reason}" for d in rules) or decision.reason


@dataclass
class Catalog:
    """A definition (name, title, description, input and output schemas) is text the agent's
    model reads, and a promise of what calling the tool does. Before a tool is offered:

    1. its texts are checked for poisoning (poison.py): a definition that gives the model
       instructions is refused, as Redline's own clause `redline mcp.tool-poisoning`;
    2. the definition is decided by the deployment's and the server's packs, with the exact
       rules only: its texts as a system turn, and a call of the tool with every argument
       given (a placeholder per input-schema property) as the assistant's tool call. So a
       rule that fires whatever the arguments (`bulk_identify_faces` is mass surveillance)
       decides, and one that depends on the values (an empty filter) waits for the call.
       Deny: the tool is not offered. Hold or allow: it is offered; each call is decided anew
       with the full classifier.

    Every decision is on the ledger. Decisions are kept per deployment, server, definition
    (its SHA-256) and attested context, so a definition is decided again only when it changes.
    """

    gateway: McpGateway
    _decided: dict[str, Decision] = field(default_factory=dict)
    # per deployment and attested context: the index, and the listings it was built from
    _indexes: dict[str, tuple[tuple[int, ...], ToolIndex]] = field(default_factory=dict)

    async def index(self, caller: Caller, *, refresh: bool) -> ToolIndex:
        """The caller's tools: every bound server's, decided; `refresh` lists them anew.
        Without it, an index built from the servers' current listings is reused."""
        names = self.gateway.server_names(caller.deployment)
        key = sha256_hex(
            {"deployment": caller.deployment, "context": _attested(caller), "servers": names}
        )
        if not refresh and (kept := self._indexes.get(key)) is not None:
            listings, index = kept
            if listings == self._listings(names) and not index.unreachable:
                return index
        index = await self._build(caller, names, refresh=refresh)
        if len(self._indexes) > _MAX_DECIDED:
            self._indexes.clear()
        self._indexes[key] = (self._listings(names), index)
        return index

    def _listings(self, names: list[str]) -> tuple[int, ...]:
        return tuple(self.gateway.servers.get(n).listings for n in names)

    async def _build(self, caller: Caller, names: list[str], *, refresh: bool) -> ToolIndex:
        index = ToolIndex()
        for name in names:
            server = self.gateway.servers.get(name)
            try:
                tools = await server.list_tools(refresh=refresh)
            except UpstreamError as exc:
                log.warning("MCP server %s: tools/list failed: %s", name, exc)
                index.unreachable[name] = str(exc)
                continue
            decisions = await in_thread(self._decide, caller, name, tools)
            for tool, decision in zip(tools, decisions, strict=True):
                self._place(index, name, tool, decision)
        return index

    def _place(self, index: ToolIndex, server: str, tool: types.Tool, decision: Decision) -> None:
        if tool.name in index.offered or tool.name in index.withheld:
            first = (index.offered.get(tool.name) or index.withheld[tool.name]).server
            index.withheld.setdefault(
                f"{server}/{tool.name}",
                Withheld(server, tool.name, f"the name is already offered by server {first!r}"),
            )
            return
        if decision.decision == "deny":
            index.withheld[tool.name] = Withheld(server, tool.name, _clauses(decision))
        else:
            index.offered[tool.name] = Offered(server, tool, decision)

    def _key(self, caller: Caller, server: str, tool: types.Tool) -> str:
        definition = tool.model_dump(mode="json", by_alias=True, exclude_none=True)
        return sha256_hex(
            {"server": server, "definition": definition, "context": _attested(caller)}
        )

    def _decide(self, caller: Caller, server: str, tools: list[types.Tool]) -> list[Decision]:
        """The decision on each definition: kept, or made now (one ledger write for all)."""
        keys = [self._key(caller, server, t) for t in tools]
        fresh = [(k, t) for k, t in zip(keys, tools, strict=True) if k not in self._decided]
        made = self._decide_new(caller, server, [t for _, t in fresh])
        if len(self._decided) + len(made) > _MAX_DECIDED:
            self._decided.clear()
        for (key, _), decision in zip(fresh, made, strict=True):
            if decision.failure is None:  # a failed check is decided again next time
                self._decided[key] = decision
        out = dict(zip([k for k, _ in fresh], made, strict=True))
        return [out.get(k) or self._decided[k] for k in keys]

    def _decide_new(self, caller: Caller, server: str, tools: list[types.Tool]) -> list[Decision]:
        decider = self.gateway.decider(caller.deployment, server, listing=True)
        requests = [definition_request(t, caller, server) for t in tools]
        hits = [
            poison_hits(
                definition_parts(t.name, t.title, t.description, t.input_schema, t.output_schema)
            )
            for t in tools
        ]
        clean = [r for r, h in zip(requests, hits, strict=True) if not h]
        decided = iter(decider.decide_batch(clean) if clean else [])
        out: list[Decision] = []
        for request, found in zip(requests, hits, strict=True):
            if found:
                log.warning("refused a poisoned tool definition: %s", request.id)
                out.append(decider.record(request, poisoned(found)))
            else:
                out.append(next(decided))
        return out
