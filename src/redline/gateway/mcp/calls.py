"""tools/call: decide, record, then forward, and check the result before the agent sees it.

The steps are on `ToolCalls.call`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import anyio
import mcp_types as types
from pydantic import ValidationError

from redline.approvals.flow import decide_with_approvals
from redline.approvals.models import ApprovalState
from redline.clock import utcnow
from redline.decision import Decision
from redline.errors import ConflictError, RedlineError
from redline.gateway.mcp import answers
from redline.gateway.mcp.gateway import APPROVAL_META, TOKEN_META, Caller, McpGateway
from redline.gateway.mcp.listing import Catalog, Offered
from redline.gateway.mcp.upstream import UpstreamError
from redline.gateway.threads import in_thread
from redline.ledger.entry import LedgerEntry
from redline.ledger.store import Sealed
from redline.subject import DecideRequest, ToolCall

log = logging.getLogger("redline.gateway.mcp")

_POLL_S = 0.2  # how often a waiting call looks at its approval


@dataclass
class ToolCalls:
    gateway: McpGateway
    catalog: Catalog = field(init=False)

    def __post_init__(self) -> None:
        self.catalog = Catalog(self.gateway)

    async def call(
        self, caller: Caller, params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        """Decide, record, forward and check one tool call, in five steps.

        1. The tool must be one Redline offered this caller (listing.py); anything else is
           refused and nothing is forwarded.
        2. The call (its name, argument names and values) is decided by the deployment's and the
           tool server's packs and recorded durably on the ledger before anything runs.
        3. Deny: a tool error naming the clause. Hold: an approval is opened and a tool error
           carries its id; with `mcp_hold_wait_s` the call first waits that long for the decision.
           The agent resumes by repeating the identical call with `_meta["redline/approval_id"]`:
           the approval is checked against this very call and caller, the packs decide again with
           the approvers' roles, and an allow carries the signed action token.
        4. Allow: the call is forwarded, with the action token (if any) in
           `_meta["redline/action_token"]` and none of the agent's own `_meta`.
        5. The result is decided like a model answer (its text, structured content and resource
           texts; blocks Redline cannot read are removed) and released only when allowed.
        """
        name, arguments = params.name, params.arguments or {}
        approval_id = (params.meta or {}).get(APPROVAL_META)
        if approval_id is not None and not isinstance(approval_id, str):
            return answers.refused(name, f"_meta {APPROVAL_META!r} must be a string")
        offered = await self._route(caller, name)
        if not isinstance(offered, Offered):
            return answers.refused(name, offered)
        try:
            request = DecideRequest(
                tool_call=ToolCall(name=name, arguments=arguments), context=caller.context
            )
        except ValidationError as exc:
            return answers.refused(name, f"the call is not valid: {exc.errors()[0]['msg']}")
        try:
            decision = await self._decide(caller, offered.server, request, approval_id)
        except RedlineError as exc:  # a resume that cannot be granted
            return answers.refused(name, str(exc))
        return await self._act(caller, offered, request, decision)

    async def _route(self, caller: Caller, name: str) -> Offered | str:
        """The offered tool of that name, or why there is none (listed anew once)."""
        index = await self.catalog.index(caller, refresh=False)
        if name not in index.offered and name not in index.withheld:
            index = await self.catalog.index(caller, refresh=True)
        if name in index.offered:
            return index.offered[name]
        if name in index.withheld:
            return f"the tool is not offered: {index.withheld[name].reason}"
        down = "; ".join(index.unreachable.values())
        return "no tool of that name is offered to this deployment" + (
            f" (unreachable: {down})" if down else ""
        )

    async def _decide(
        self, caller: Caller, server: str, request: DecideRequest, approval_id: str | None
    ) -> Decision:
        decider = self.gateway.decider(caller.deployment, server)
        services = self.gateway.services
        decision = await in_thread(
            decide_with_approvals,
            decider,
            services.approvals,
            request,
            caller.principal,
            approval_id,
        )
        wait_s = self.gateway.settings.mcp_hold_wait_s
        if decision.decision == "hold" and decision.approval_id and wait_s > 0:
            decision = await self._wait(caller, server, request, decision, wait_s)
        return decision

    async def _wait(
        self, caller: Caller, server: str, request: DecideRequest, held: Decision, wait_s: float
    ) -> Decision:
        """Block up to `wait_s` for the approval's decision; resume the call once approved."""
        assert held.approval_id is not None
        approvals = self.gateway.services.approvals
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            await anyio.sleep(min(_POLL_S, max(0.0, deadline - time.monotonic())))
            detail = await in_thread(approvals.detail, held.approval_id, caller.principal)
            if detail.state is ApprovalState.APPROVED:
                return await self._decide(caller, server, request, held.approval_id)
            if detail.state is not ApprovalState.PENDING:
                raise ConflictError(
                    f"approval {held.approval_id} was {detail.state}"
                    + (f": {detail.reject_reason}" if detail.reject_reason else "")
                )
        return held

    async def _act(
        self, caller: Caller, offered: Offered, request: DecideRequest, decision: Decision
    ) -> types.CallToolResult:
        name = offered.tool.name
        if decision.failure:
            return answers.failed(name, decision)
        if decision.decision == "deny":
            return answers.denied(name, decision)
        if decision.decision == "hold":
            return answers.held(name, decision, self.gateway.settings.mcp_hold_wait_s)
        assert request.tool_call is not None
        meta = {TOKEN_META: decision.action_token} if decision.action_token else None
        server = self.gateway.servers.get(offered.server)
        try:
            result = await server.call_tool(name, request.tool_call.arguments, meta)
        except UpstreamError as exc:
            log.error("tools/call %s failed after allow: %s", name, exc)
            await self._record_failure(caller, offered.server, name, decision, exc)
            return answers.upstream_failed(name, decision, str(exc))
        return await self._check_result(caller, offered, result, decision)

    async def _record_failure(
        self, caller: Caller, server: str, tool: str, call: Decision, exc: UpstreamError
    ) -> None:
        """An `upstream.failed` entry referring to the call's allow, as the chat gateway
        records one: the ledger does not show a plain allow for a call whose outcome is
        unknown."""
        entry = LedgerEntry(
            kind="upstream.failed",
            time=utcnow(),
            deployment=caller.deployment,
            principal=caller.principal.id,
            refers_to=call.ledger_index,
            detail={"mcp_server": server, "tool": tool, "status": exc.status, "code": exc.code},
        )
        try:
            await in_thread(self.gateway.services.store.append_many, [Sealed(entry)])
        except Exception as failure:  # the error is answered anyway
            log.error("could not record an MCP upstream failure: %s", type(failure).__name__)

    async def _check_result(
        self, caller: Caller, offered: Offered, result: types.CallToolResult, call: Decision
    ) -> types.CallToolResult:
        name = offered.tool.name
        read = answers.result_text(result)
        if not read.text.strip():
            return answers.checked(name, result, call, None)
        if why := answers.too_large(read.text):
            return answers.tool_error(f"The call of {name!r} ran, but {why}.")
        roles = await self._approver_roles(caller, call)
        decider = self.gateway.decider(caller.deployment, offered.server)
        request = DecideRequest(text=read.text, context=caller.context)
        answer = await in_thread(decider.decide, request, roles, answer=True)
        if answer.decision != "allow":
            return answers.withheld(name, call, answer)
        return answers.checked(name, result, call, answer)

    async def _approver_roles(self, caller: Caller, call: Decision) -> frozenset[str]:
        """The roles that approved the call: the result of an approved action carries them,
        as a model's answer to an approved request does."""
        if not call.approval_id:
            return frozenset()
        approvals = self.gateway.services.approvals
        detail = await in_thread(approvals.detail, call.approval_id, caller.principal)
        return frozenset(r for v in detail.votes if v.vote == "approve" for r in v.roles)
