"""Answers with withheld parts, parked in the state database until their approvals.

A held text or tool call is withheld from the client; the answer it belongs to is parked
under each withheld part's approval id. Repeating the request with `Redline-Approval-Id`
finds it on any gateway worker (and after a restart), releases what was approved, and
stores the answer again with those parts marked released. Parked answers expire after
`ttl_s`, as the approvals do.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update

from redline.decision import Decision
from redline.gateway.chat.check import Check
from redline.gateway.chat.models import ChatCompletion
from redline.gateway.chat.tools import Item
from redline.ledger.content import seal_text, unseal_text
from redline.subject import DecideRequest
from redline.tables import parked_answers_table, parked_approvals_table


def withheld(items: Iterable[Item]) -> list[str]:
    """The approval ids of the parts withheld until approved: what parking is for."""
    return [i.approval_id for i in items if i.status == "withheld" and i.approval_id]


@dataclass
class Parked:
    """An answer with withheld parts, waiting for approvals."""

    completion: ChatCompletion
    items: list[Item]
    request_hash: str
    principal: str
    stream: bool
    id: str = field(default_factory=lambda: "pk_" + secrets.token_hex(12))

    def withheld(self) -> list[str]:
        return withheld(self.items)

    def to_json(self) -> str:
        return json.dumps(
            {
                "completion": self.completion.model_dump(mode="json"),
                "items": [_item_json(i) for i in self.items],
                "stream": self.stream,
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_row(cls, row: Any, text: str) -> Parked:
        body = json.loads(text)
        return cls(
            completion=ChatCompletion.model_validate(body["completion"]),
            items=[_item_from(i) for i in body["items"]],
            request_hash=row.request_hash,
            principal=row.principal,
            stream=bool(body["stream"]),
            id=row.id,
        )


def _item_json(item: Item) -> dict[str, Any]:
    return {
        "choice": item.choice,
        "kind": item.kind,
        "position": item.position,
        "request": item.request.model_dump(mode="json", exclude_none=True),
        "decision": item.decision.model_dump(mode="json") if item.decision else None,
        "status": item.status,
        "approval_id": item.approval_id,
        "action_token": item.action_token,
    }


def _item_from(raw: dict[str, Any]) -> Item:
    decision = raw.get("decision")
    return Item(
        choice=int(raw["choice"]),
        kind=raw["kind"],
        position=int(raw["position"]),
        request=DecideRequest.model_validate(raw["request"]),
        decision=Decision.model_validate(decision) if decision else None,
        status=raw["status"],
        approval_id=raw.get("approval_id"),
        action_token=raw.get("action_token"),
    )


class Parking:
    """Parked answers in the state database (blocking: call it from a worker thread)."""

    def __init__(
        self, engine: Engine, ttl_s: float = 86_400, content_key: bytes | None = None
    ) -> None:
        self.engine = engine
        self.ttl_s = ttl_s
        self.content_key = content_key  # seals the parked answer (AES-GCM), when given

    def _sealed(self, parked: Parked) -> str:
        return seal_text(parked.to_json(), self.content_key, parked.id)

    def park(self, parked: Parked) -> None:
        ids = parked.withheld()
        if not ids:
            return
        with self.engine.begin() as conn:
            conn.execute(
                insert(parked_answers_table).values(
                    id=parked.id,
                    principal=parked.principal,
                    request_hash=parked.request_hash,
                    created_at=time.time(),
                    body=self._sealed(parked),
                )
            )
            conn.execute(
                insert(parked_approvals_table),
                [{"approval_id": a, "parked_id": parked.id} for a in ids],
            )

    def find(self, approval_ids: list[str]) -> Parked | None:
        """The parked answer one of these approval ids releases, if any and not expired."""
        if not approval_ids:
            return None
        query = (
            select(parked_answers_table)
            .join(
                parked_approvals_table,
                parked_approvals_table.c.parked_id == parked_answers_table.c.id,
            )
            .where(parked_approvals_table.c.approval_id.in_(approval_ids))
            .where(parked_answers_table.c.created_at >= time.time() - self.ttl_s)
            .limit(1)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        body = unseal_text(row.body, self.content_key, row.id, f"parked answer {row.id}")
        return Parked.from_row(row, body)

    def save(self, parked: Parked) -> None:
        """Store the answer's new state. While any part is still withheld, each of its
        approval ids finds it (a resume that released one part and was refused another can
        be repeated); once none is, it is gone, and its ids release nothing more."""
        with self.engine.begin() as conn:
            if parked.withheld():
                conn.execute(
                    update(parked_answers_table)
                    .where(parked_answers_table.c.id == parked.id)
                    .values(body=self._sealed(parked))
                )
                return
            conn.execute(
                delete(parked_approvals_table).where(
                    parked_approvals_table.c.parked_id == parked.id
                )
            )
            conn.execute(delete(parked_answers_table).where(parked_answers_table.c.id == parked.id))


async def release(check: Check, parked: Parked, ids: list[str]) -> Decision | None:
    """Release the parked items whose approval ids were given and are granted (the caller
    stores the answer's new state)."""
    for item in parked.items:
        if item.status != "withheld" or item.approval_id not in ids:
            continue
        assert item.approval_id is not None
        grant = await check.grant(item.approval_id, item.request.subject())
        decision = await check.decide(item.request, grant.roles, answer=item.kind == "text")
        if decision.failure:
            return decision
        item.decision = decision
        if decision.decision == "allow":
            token = await check.issue(grant, item.request.subject())
            item.status, item.action_token = "released", token
    return None
