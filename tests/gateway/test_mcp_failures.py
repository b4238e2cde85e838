"""The MCP gateway when things go wrong or wait: the waiting mode for holds, an unreachable
tool server, a forged token, a classifier that fails. Nothing unchecked reaches a tool."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from redline.classify.rules import RuleClassifier
from redline.classify.types import Classification
from redline.gateway.app import create_app
from redline.settings import McpServerConfig
from redline.subject import Subject
from tests.support.loopback import free_port, serve
from tests.support.mcp import McpEnv, add_people, mcp_gateway, settings_for, text

ENGAGE = {"target_id": "T-40", "weapon": "mortar"}


@pytest.fixture(scope="module")
def waiting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[McpEnv]:
    with mcp_gateway(tmp_path_factory.mktemp("wait"), mcp_hold_wait_s=3) as env:
        yield env


def decide_pending(env: McpEnv, act: Callable[[str], None]) -> threading.Thread:
    """A commander in another thread: takes the first pending approval and acts on it."""

    def commander() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            pending = env.http("GET", "/v1/approvals", "commander").json()
            if pending:
                act(pending[0]["id"])
                return
            time.sleep(0.05)

    thread = threading.Thread(target=commander, daemon=True)
    thread.start()
    return thread


def test_a_waiting_call_runs_once_the_commander_approves(waiting: McpEnv) -> None:
    def approve(approval_id: str) -> None:
        env = waiting
        env.http("POST", f"/v1/approvals/{approval_id}/approve", "commander", json={})

    commander = decide_pending(waiting, approve)
    result = waiting.call("engage_target", ENGAGE)
    commander.join(timeout=20)
    assert not result.is_error, text(result)
    assert text(result) == "Engagement of T-40 with mortar ordered."
    decision = (result.meta or {})["redline/decision"]
    assert decision["decision"] == "allow" and decision["approval_id"].startswith("ap_")
    assert waiting.log.received[-1]["meta"]["redline/action_token"]


def test_a_waiting_call_is_refused_once_the_commander_rejects(waiting: McpEnv) -> None:
    def reject(approval_id: str) -> None:
        body = {"reason": "wrong grid"}
        waiting.http("POST", f"/v1/approvals/{approval_id}/reject", "commander", json=body)

    commander = decide_pending(waiting, reject)
    result = waiting.call("engage_target", {**ENGAGE, "target_id": "T-41"})
    commander.join(timeout=20)
    assert result.is_error and "rejected: wrong grid" in text(result)
    assert "T-41" not in str(waiting.log.received)


def test_a_waiting_call_still_held_after_the_wait_says_how_to_resume(waiting: McpEnv) -> None:
    result = waiting.call("engage_target", {**ENGAGE, "target_id": "T-42"})
    assert result.is_error and "Waited 3 s" in text(result)
    assert (result.meta or {})["redline/approval_id"] in text(result)
    assert "T-42" not in str(waiting.log.received)


def test_an_unreachable_tool_server_offers_nothing_and_runs_nothing(tmp_path: Path) -> None:
    nowhere = McpServerConfig(url=f"http://127.0.0.1:{free_port()}/mcp", connect_timeout_s=1)
    app = create_app(settings_for(tmp_path, nowhere))
    keys = add_people(app)
    with serve(app) as url:
        env = McpEnv(url, "", None, keys, app, app.state.services.settings, tmp_path)  # type: ignore[arg-type]
        assert env.listed() == []
        result = env.call("get_weather", {"city": "Oslo"})
    assert result.is_error and "unreachable" in text(result) and "'field'" in text(result)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[McpEnv]:
    with mcp_gateway(tmp_path_factory.mktemp("mcp")) as e:
        yield e


def test_an_agents_own_token_is_never_forwarded(env: McpEnv) -> None:
    forged: dict[str, Any] = {"redline/action_token": "forged.token"}
    weather = env.call("get_weather", {"city": "Oslo"}, **forged)
    assert not weather.is_error and env.log.received[-1]["meta"] == {}
    engage = env.call("engage_target", ENGAGE, **forged)
    assert engage.is_error and "held" in text(engage)
    assert "engage_target" not in env.log.names()


def test_an_approval_id_that_is_not_a_string_is_refused(env: McpEnv) -> None:
    result = env.call("engage_target", ENGAGE, **{"redline/approval_id": 7})
    assert result.is_error and "must be a string" in text(result)


class BrokenClassifier(RuleClassifier):
    """The real rule backend with a failure injected, as an out-of-memory would."""

    def classify_batch(self, subjects: list[Subject]) -> list[Classification]:  # type: ignore[override]
        raise MemoryError("injected")


def test_a_classifier_failure_denies_and_forwards_nothing(tmp_path: Path) -> None:
    with mcp_gateway(tmp_path) as env:
        env.app.state.services.classifier = BrokenClassifier()
        result = env.call("get_weather", {"city": "Oslo"})
        assert result.is_error and "fails closed" in text(result)
        assert (result.meta or {})["redline/decision"]["failure"] == "classifier"
        assert env.log.received == []


def test_a_tool_server_that_fails_after_the_allow_is_recorded(tmp_path: Path) -> None:
    with mcp_gateway(tmp_path, timeout_s=1) as env:
        result = env.call("slow_report", {"seconds": 3})
        store = env.app.state.services.store
        entries = [json.loads(body) for _, body, _ in store.scan()]
    assert result.is_error and "outcome is unknown" in text(result)
    allow = (result.meta or {})["redline/decision"]
    failed = entries[-1]
    assert failed["kind"] == "upstream.failed" and failed["refers_to"] == allow["ledger_index"]
    assert (
        failed["detail"]["code"] == "upstream_timeout" and failed["detail"]["tool"] == "slow_report"
    )
