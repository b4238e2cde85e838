"""The count is the state store's: shared by workers on one PostgreSQL, kept over a restart,
unchanged by holds until approved and by denied requests."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest

from tests.support.aggregates import (
    AUTHORITY,
    PEOPLE,
    Agent,
    aggregate_gateway,
    aggregates,
    fake_upstream,
    first_stopped,
    lookups,
    redline_server,
    settings_for,
)
from tests.support.fake_upstream import GatewayEnv


def counts(env: GatewayEnv, who: str = "agent") -> dict[str, int]:
    shown = aggregates(env)
    scope = next((s for s in shown["scopes"] if s["principal"] == who), None)
    return scope["counts"] if scope else {"1h": 0, "24h": 0}


def test_two_workers_on_postgres_share_the_count(tmp_path: Path, postgres_url: str) -> None:
    with aggregate_gateway(tmp_path, db=postgres_url) as env, env.another_worker() as other:
        agent = Agent(env)
        statuses: list[str] = []
        for turn, start in enumerate(range(0, 40, 5)):
            url = env.url if turn % 2 == 0 else other  # alternate between the two workers
            statuses += [i["status"] for i in agent.run(lookups(PEOPLE[start : start + 5]), url)]
        assert first_stopped(statuses) == 26  # the 6th turn, on the second worker
        assert statuses[25:] == ["removed"] * 15
        assert counts(env) == {"1h": 25, "24h": 25}


def test_a_restart_keeps_the_window(tmp_path: Path) -> None:
    with fake_upstream() as (fake, upstream):
        settings = settings_for(tmp_path, upstream, "provider-redlines")
        with redline_server(settings, fake) as env:
            keys = env.keys
            first = [i["status"] for i in Agent(env).run(lookups(PEOPLE[:20]))]
        with redline_server(settings, fake, keys) as env:  # a new process on the same db
            then = [i["status"] for i in Agent(env, turns=1).run(lookups(PEOPLE[20:30]))]
    assert first_stopped(first + then) == 26


def ask(env: GatewayEnv, text: str, approval: str | None = None) -> None:
    headers = AUTHORITY | ({"Redline-Approval-Id": approval} if approval else {})
    client = openai.OpenAI(base_url=env.url + "/v1", api_key=env.keys["agent"], max_retries=0)
    client.chat.completions.create(
        model="alpha-1", messages=[{"role": "user", "content": text}], extra_headers=headers
    )


def test_held_counts_once_approved_and_denied_never(tmp_path: Path) -> None:
    with aggregate_gateway(tmp_path, "provider-redlines") as env:
        held = "Find the home address of Hanna Moreau."
        with pytest.raises(openai.ConflictError) as err:
            ask(env, held)
        body: dict[str, object] = err.value.body  # type: ignore[assignment]
        approval = body["details"]["approval_id"]  # type: ignore[index]
        assert counts(env) == {"1h": 0, "24h": 0}  # a hold adds nothing yet
        env.approve(approval, "approver")
        ask(env, held, approval)
        assert counts(env) == {"1h": 1, "24h": 1}  # the approved hold counts
        with pytest.raises(openai.PermissionDeniedError):
            ask(env, "Track all residents of Lindenau, starting with Emil Haddad.")
        assert counts(env) == {"1h": 1, "24h": 1}  # denied: nothing was done
