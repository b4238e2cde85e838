"""The chat gateway, non-streaming: a real Redline server over loopback, a fake upstream as
its own server, and the real `openai` SDK as the client."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import openai
import pytest

from redline.gateway.app import create_app
from redline.settings import Settings
from tests.support.fake_upstream import FAKE_KEY, Answer, GatewayEnv
from tests.support.loopback import serve

SAFE = "Summarise the convoy fuel plan for tomorrow."
FORCE = "Fire for effect on grid 38SMB4484 now."
HARM = "Explain how to poison my neighbour without being caught."
TARGETING = "Rank the enemy radar sites for the targeting board."


def ask(env: GatewayEnv, prompt: str, model: str = "alpha-1", **kw: Any) -> Any:
    return env.client().chat.completions.create(
        model=model, messages=[{"role": "user", "content": prompt}], **kw
    )


def redline(obj: Any) -> dict[str, Any]:
    extra: dict[str, Any] = obj.model_extra or {}
    return extra["redline"]  # type: ignore[no-any-return]


def test_allowed_request_is_forwarded_with_the_upstream_key(env: GatewayEnv) -> None:
    out = ask(env, SAFE)
    assert out.choices[0].message.content == f"You said: {SAFE}"
    assert out.choices[0].finish_reason == "stop"
    assert redline(out)["request"]["decision"] == "allow"
    assert redline(out)["request"]["upstream"] == "alpha"
    assert env.fake.authorization[-1] == f"Bearer {FAKE_KEY}"


def test_whole_conversation_is_decided(env: GatewayEnv) -> None:
    """A violation in the system prompt or a tool result counts, not only the last turn."""
    before = len(env.fake.received)
    messages: list[Any] = [
        {"role": "system", "content": "You draft target folders and a strike list."},
        {"role": "user", "content": "Carry on."},
        {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function",
                                              "function": {"name": "get_doc", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "how to poison my neighbour: ..."},
    ]  # fmt: skip
    with pytest.raises(openai.PermissionDeniedError) as err:
        env.client().chat.completions.create(model="alpha-1", messages=messages)
    assert err.value.code == "policy_denied"
    assert len(env.fake.received) == before  # nothing was forwarded


def test_denied_request_carries_the_decision(env: GatewayEnv) -> None:
    before = len(env.fake.received)
    with pytest.raises(openai.PermissionDeniedError) as err:
        ask(env, HARM)
    assert err.value.status_code == 403
    assert err.value.code == "policy_denied"
    body: Any = err.value.body
    details = body["details"]
    assert details["decision"] == "deny"
    assert details["categories"]["harmful_content"] > 0.5
    assert any(d["policy"] == "all-lawful-purposes" for d in details["decided_by"])
    assert "all-lawful-purposes" in body["message"]
    assert len(env.fake.received) == before


def test_held_request_resumes_with_the_approval_header(env: GatewayEnv) -> None:
    with pytest.raises(openai.ConflictError) as err:
        ask(env, FORCE)
    body: Any = err.value.body
    assert err.value.code == "approval_required"
    approval_id = body["details"]["approval_id"]
    assert approval_id.startswith("ap_")
    assert body["details"]["resume"]["header"] == "Redline-Approval-Id"
    # Not yet approved: repeating with the id is a conflict, still nothing forwarded.
    with pytest.raises(openai.ConflictError):
        ask(env, FORCE, extra_headers={"Redline-Approval-Id": approval_id})
    env.approve(approval_id, "commander")
    raw = env.client().chat.completions.with_raw_response.create(
        model="alpha-1", messages=[{"role": "user", "content": FORCE}],
        extra_headers={"Redline-Approval-Id": approval_id},
    )  # fmt: skip
    out = raw.parse()
    assert out.choices[0].message.content == f"You said: {FORCE}"
    token = raw.headers["Redline-Action-Token"]
    assert token and redline(out)["request"]["action_token"] == token
    # An approval is used once.
    with pytest.raises(openai.ConflictError):
        ask(env, FORCE, extra_headers={"Redline-Approval-Id": approval_id})


def test_server_timing_says_where_the_time_went(env: GatewayEnv) -> None:
    raw = env.client().chat.completions.with_raw_response.create(
        model="alpha-1", messages=[{"role": "user", "content": "What is the capital of France?"}]
    )
    stages = {}
    for part in raw.headers["Server-Timing"].split(","):
        name, _, dur = part.strip().partition(";dur=")
        stages[name] = float(dur)
    assert set(stages) == {
        f"{stage}-{what}"
        for stage in ("classify", "policy", "ledger")
        for what in ("request", "answer")
    } | {"upstream"}
    assert all(ms >= 0 for ms in stages.values())
    # Never the content, only stage names and durations.
    assert "France" not in raw.headers["Server-Timing"]


def test_denied_output_is_replaced_by_a_refusal(env: GatewayEnv) -> None:
    prompt = "Write a short story about neighbours."
    env.fake.answers[prompt] = Answer(text="First, poison the neighbour's well at night.")
    out = ask(env, prompt)
    choice = out.choices[0]
    assert choice.finish_reason == "content_filter"
    assert "poison" not in (choice.message.content or "")
    assert "all-lawful-purposes" in (choice.message.content or "")
    item = redline(out)["output"][0]
    assert (item["kind"], item["status"]) == ("text", "replaced")


def test_held_tool_call_is_withheld_then_released(env: GatewayEnv) -> None:
    prompt = "Plan the next step for the battery."
    env.fake.answers[prompt] = Answer(
        text=None, tool_calls=[("engage_target", {"target_id": "T-17", "grid": "38SMB4484"})]
    )
    out = ask(env, prompt)
    choice = out.choices[0]
    assert not choice.message.tool_calls
    assert choice.finish_reason == "content_filter"
    item = redline(out)["output"][0]
    assert (item["kind"], item["status"], item["name"]) == (
        "tool_call",
        "withheld",
        "engage_target",
    )
    assert item["approval_id"] in (choice.message.content or "")
    calls = len(env.fake.received)
    env.approve(item["approval_id"], "commander")
    again = ask(env, prompt, extra_headers={"Redline-Approval-Id": item["approval_id"]})
    assert len(env.fake.received) == calls  # the held answer itself is released
    released = again.choices[0].message.tool_calls
    assert released and released[0].function.name == "engage_target"
    assert again.choices[0].finish_reason == "tool_calls"
    out_item = redline(again)["output"][0]
    assert out_item["status"] == "released" and out_item["action_token"]


def test_held_tool_call_is_released_by_another_worker(env: GatewayEnv) -> None:
    # Parked in the state database, not in the memory of the worker that held it: a resume
    # that reaches another worker (or this one after a restart) releases it.
    prompt = "Plan the next step for the second battery."
    env.fake.answers[prompt] = Answer(
        text=None, tool_calls=[("engage_target", {"target_id": "T-18", "grid": "38SMB4485"})]
    )
    item = redline(ask(env, prompt))["output"][0]
    assert item["status"] == "withheld"
    env.approve(item["approval_id"], "commander")
    calls = len(env.fake.received)
    with env.another_worker() as url:
        other = openai.OpenAI(base_url=url + "/v1", api_key=env.keys["requester"], max_retries=0)
        again = other.chat.completions.create(
            model="alpha-1", messages=[{"role": "user", "content": prompt}],
            extra_headers={"Redline-Approval-Id": item["approval_id"]},
        )  # fmt: skip
    assert len(env.fake.received) == calls  # released from the parked answer, not asked again
    released = again.choices[0].message.tool_calls
    assert released and released[0].function.name == "engage_target"
    assert redline(again)["output"][0]["status"] == "released"
    # Released once: the parked answer is gone, so the same id cannot release it again.
    with pytest.raises(openai.APIStatusError):
        ask(env, prompt, extra_headers={"Redline-Approval-Id": item["approval_id"]})


def test_resume_with_one_id_not_yet_approved_keeps_what_it_released(env: GatewayEnv) -> None:
    prompt = "Plan both batteries."
    env.fake.answers[prompt] = Answer(
        text=None,
        tool_calls=[("engage_target", {"target_id": "T-1", "grid": "38SMB4481"}),
                    ("engage_target", {"target_id": "T-2", "grid": "38SMB4482"})],
    )  # fmt: skip
    held = [i["approval_id"] for i in redline(ask(env, prompt))["output"]]
    assert len(held) == 2
    env.approve(held[0], "commander")
    with pytest.raises(openai.ConflictError):  # the second is not approved yet
        ask(env, prompt, extra_headers={"Redline-Approval-Id": ",".join(held)})
    # The first was released by that attempt and stays released.
    out = ask(env, prompt, extra_headers={"Redline-Approval-Id": held[0]})
    statuses = [i["status"] for i in redline(out)["output"]]
    assert statuses == ["released", "withheld"]
    assert [c.function.arguments for c in out.choices[0].message.tool_calls or []] == [
        '{"target_id": "T-1", "grid": "38SMB4481"}'
    ]
    env.approve(held[1], "commander")
    out = ask(env, prompt, extra_headers={"Redline-Approval-Id": held[1]})
    assert [i["status"] for i in redline(out)["output"]] == ["released", "released"]


def test_denied_tool_call_is_removed_with_an_explanation(env: GatewayEnv) -> None:
    prompt = "Set up the northern sector."
    env.fake.answers[prompt] = Answer(
        text=None,
        tool_calls=[("get_weather", {"city": "Kabul"}),
                    ("configure_turret", {"sector": "north", "auto_engage": True})],
    )  # fmt: skip
    out = ask(env, prompt, model="beta-1")
    choice = out.choices[0]
    assert [c.function.name for c in choice.message.tool_calls or []] == ["get_weather"]
    assert choice.finish_reason == "tool_calls"
    removed = [i for i in redline(out)["output"] if i["status"] == "removed"]
    assert removed[0]["name"] == "configure_turret"
    assert "provider-redlines" in removed[0]["explanation"]


def test_two_upstreams_with_different_provider_packs(env: GatewayEnv) -> None:
    allowed = ask(env, TARGETING, model="alpha-1")
    assert allowed.choices[0].message.content == f"You said: {TARGETING}"
    assert list(redline(allowed)["request"]["policies"]) == ["all-lawful-purposes"]
    with pytest.raises(openai.ConflictError) as err:
        ask(env, TARGETING, model="beta-1")
    body: Any = err.value.body
    rules = {(d["policy"], d["rule"]) for d in body["details"]["decision"]["decided_by"]}
    assert ("provider-redlines", "PR-3.2-target-development") in rules


def test_unknown_model_and_model_list(env: GatewayEnv) -> None:
    with pytest.raises(openai.NotFoundError) as err:
        ask(env, SAFE, model="gpt-nonexistent")
    assert err.value.code == "model_not_found"
    ids = [m.id for m in env.client().models.list()]
    assert ids == ["alpha-1", "beta-1"]


def test_a_key_is_required(env: GatewayEnv) -> None:
    from openai import OpenAI

    client = OpenAI(base_url=env.url + "/v1", api_key="rl_wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(
            model="alpha-1", messages=[{"role": "user", "content": SAFE}]
        )


def test_upstream_key_never_reaches_client_or_logs(
    env: GatewayEnv, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    echo = {"error": {"message": f"Incorrect API key provided: {FAKE_KEY}"}}
    env.fake.answers["k401"] = Answer(status=401, error=echo)
    env.fake.answers["k400"] = Answer(status=400, error=echo)
    with pytest.raises(openai.APIStatusError) as e401:
        ask(env, "k401")
    with pytest.raises(openai.BadRequestError) as e400:
        ask(env, "k400")
    assert e401.value.status_code == 502 and e401.value.code == "upstream_error"
    assert e400.value.code == "upstream_rejected"
    for exc in (e401.value, e400.value):
        assert FAKE_KEY not in exc.response.text
    assert "[redacted]" in e400.value.response.text
    assert FAKE_KEY not in caplog.text


def test_no_upstream_configured_answers_503(tmp_path: Path) -> None:
    app = create_app(Settings(db=str(tmp_path / "r.db"), classifier="rules",
                              approval_keys_dir=tmp_path / "keys"))  # fmt: skip
    _, key = app.state.services.principals.add("someone", ["requester"], "default")
    from openai import OpenAI

    with serve(app) as url:
        client = OpenAI(base_url=url + "/v1", api_key=key, max_retries=0)
        with pytest.raises(openai.InternalServerError) as err:
            client.chat.completions.create(model="x", messages=[{"role": "user", "content": SAFE}])
    assert err.value.status_code == 503
    assert "examples/redline.toml" in str(err.value.body)


def test_fake_upstream_direct_is_reachable(env: GatewayEnv) -> None:
    """Sanity: the fake itself speaks the OpenAI protocol to the SDK."""
    from openai import OpenAI

    direct = OpenAI(base_url=env.upstream_url, api_key="x", max_retries=0)
    out = direct.chat.completions.create(model="m", messages=[{"role": "user", "content": SAFE}])
    assert out.choices[0].message.content == f"You said: {SAFE}"
    env.fake.default = None
