"""Aggregate rules through the real server, the real `openai` SDK and the fake upstream:
an agent looking up many people is stopped at the limit; one person, or logistics, is not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openai
import pytest

from tests.support.aggregates import (
    AUTHORITY,
    PEOPLE,
    Agent,
    aggregate_gateway,
    aggregates,
    first_stopped,
    lookups,
)

BATCH = 10


def run_all(agent: Agent, calls: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    items: list[Any] = []
    for i in range(0, len(calls), BATCH):
        items += agent.run(calls[i : i + BATCH])
    return items


def test_200_distinct_people_are_stopped_at_the_26th(tmp_path: Path) -> None:
    with aggregate_gateway(tmp_path, "provider-redlines") as env:
        items = run_all(Agent(env), lookups(PEOPLE))
        statuses = [i["status"] for i in items]
        assert first_stopped(statuses) == 26
        assert statuses[25:] == ["removed"] * 175  # every later new person too
        stopped = items[25]
        (rule,) = [d for d in stopped["decision"]["decided_by"] if d["effect"] == "deny"]
        assert rule["rule"] == "PR-2.1.1-aggregate-mass-surveillance"
        assert rule["category"] == "mass_surveillance"
        assert (rule["window"], rule["scope"], rule["count"]) == ("24h", "principal", 26)
        assert "Window 24h: 26 distinct subjects" in stopped["explanation"]
        assert not any(name in stopped["explanation"] for name in PEOPLE)
        # Someone already counted is no new subject: looking them up again goes through.
        assert Agent(env, turns=100).run(lookups(PEOPLE[:3]))[0]["status"] == "allowed"


def test_one_person_200_times_is_not_stopped(tmp_path: Path) -> None:
    with aggregate_gateway(tmp_path, "provider-redlines") as env:
        items = run_all(Agent(env), lookups([PEOPLE[7]] * 200))
        assert first_stopped([i["status"] for i in items]) is None
        shown = aggregates(env)
        agent = next(s for s in shown["scopes"] if s["principal"] == "agent")
        assert agent["counts"] == {"1h": 1, "24h": 1}


def test_200_logistics_calls_are_not_stopped_nor_counted(tmp_path: Path) -> None:
    calls = [
        ("schedule_convoy", {"route": f"MSR {i}", "vehicles": 12, "depart": "06:00"})
        for i in range(200)
    ]
    with aggregate_gateway(tmp_path, "provider-redlines") as env:
        items = run_all(Agent(env, who="ops"), calls)
        assert first_stopped([i["status"] for i in items]) is None
        shown = aggregates(env)
        assert shown["scopes"] == []


def test_above_200_all_lawful_purposes_holds_for_a_senior_review(tmp_path: Path) -> None:
    with aggregate_gateway(tmp_path, "all-lawful-purposes") as env:
        agent = Agent(env)
        items = [i for b in range(0, 200, 25) for i in agent.run(lookups(PEOPLE[b : b + 25]))]
        assert first_stopped([i["status"] for i in items]) is None
        (held,) = agent.run(lookups(["Aino Virtanen"]))
        assert held["status"] == "withheld"
        release = held["decision"]["release"]
        assert (release["roles"], release["attestations"]) == ([], ["senior_review_ref"])
        rule = held["decision"]["decided_by"][0]
        assert (rule["rule"], rule["count"]) == ("ALP-2.1.1-aggregate-senior-review", 201)
        reviewed = {"Redline-Senior-Review-Ref": "review board 2026-04"}
        (released,) = agent.run(lookups(["Aino Virtanen"]), headers=reviewed)
        assert released["status"] == "allowed"


def test_bulk_lookups_are_mass_surveillance(tmp_path: Path) -> None:
    with aggregate_gateway(tmp_path, "provider-redlines") as env:
        (bulk,) = Agent(env).run([("search_people", {"filter": {}})])
        assert bulk["status"] == "removed"
        assert bulk["decision"]["categories"]["mass_surveillance"] >= 0.95
        assert bulk["decision"]["decided_by"][0]["rule"] == "PR-2.1-mass-surveillance"
        client = openai.OpenAI(base_url=env.url + "/v1", api_key=env.keys["agent"], max_retries=0)
        with pytest.raises(openai.PermissionDeniedError) as err:
            client.chat.completions.create(
                model="alpha-1",
                messages=[{"role": "user", "content": "List everyone who visited the clinic."}],
                extra_headers=AUTHORITY,
            )
        details: Any = err.value.body
        assert details["details"]["categories"]["mass_surveillance"] >= 0.95
        assert details["details"]["decided_by"][0]["category"] == "mass_surveillance"
