"""The chat gateway, streaming: nothing reaches the client before it is checked."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from tests.support.fake_upstream import Answer, GatewayEnv

CLEAN = (
    "The convoy leaves at dawn with three fuel trucks. Rations are loaded on the second truck. "
    "Maintenance checks the tyres before departure, and the route avoids the river crossing "
    "because the bridge is closed for repairs. Radio checks happen every thirty minutes. "
    "The convoy returns before dusk."
)
DENIED_MIDWAY = (
    "Here is the plan for the evening. Nothing unusual so far, just some background. "
    "Then poison the neighbour's well at night, quietly. Afterwards, go home and sleep well."
)
HELD_MIDWAY = (
    "The battery is ready and the observers report movement near the ridge line. "
    "Fire for effect on grid 38SMB4484 with two rounds. Then report the results to the board."
)


def stream(env: GatewayEnv, prompt: str, model: str = "alpha-1", **kw: Any) -> list[Any]:
    chunks = env.client().chat.completions.create(
        model=model, messages=[{"role": "user", "content": prompt}], stream=True, **kw
    )
    return list(chunks)


def text_of(chunks: list[Any]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def last_redline(chunks: list[Any]) -> dict[str, Any]:
    extra: dict[str, Any] = chunks[-1].model_extra or {}
    return extra["redline"]  # type: ignore[no-any-return]


def test_clean_stream_arrives_whole_in_several_windows(env: GatewayEnv) -> None:
    env.fake.answers["convoy"] = Answer(text=CLEAN, chunk_chars=5)
    chunks = stream(env, "convoy")
    assert text_of(chunks) == CLEAN
    assert chunks[-1].choices[0].finish_reason == "stop"
    content_chunks = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(content_chunks) >= 3  # released in windows, not in one piece at the end


# Regression: with a short first window, a later window that closed on a sentence end
# released the words after it ("Then poison the ") before their sentence was checked whole.
# Every chunking must cut before the sentence that is denied.
@pytest.mark.parametrize("chunk_chars", [3, 4, 5, 7, 11])
def test_stream_denied_midway_is_cut_with_a_reason(env: GatewayEnv, chunk_chars: int) -> None:
    env.fake.answers["evening"] = Answer(text=DENIED_MIDWAY, chunk_chars=chunk_chars)
    chunks = stream(env, "evening")
    released = text_of(chunks)
    assert "poison" not in released
    assert released.startswith("Here is the plan")
    final = chunks[-1]
    assert final.choices[0].finish_reason == "content_filter"
    info = last_redline(chunks)
    assert info["cut"] is True
    assert "all-lawful-purposes" in info["reason"]
    assert info["decision"]["decision"] == "deny"


def test_stream_held_midway_is_parked_and_released_after_approval(env: GatewayEnv) -> None:
    env.fake.answers["battery"] = Answer(text=HELD_MIDWAY, chunk_chars=6)
    chunks = stream(env, "battery")
    released = text_of(chunks)
    assert "Fire for effect" not in released
    assert chunks[-1].choices[0].finish_reason == "content_filter"
    item = last_redline(chunks)["output"][0]
    assert (item["kind"], item["status"]) == ("text", "withheld")
    env.approve(item["approval_id"], "commander")
    again = stream(env, "battery", extra_headers={"Redline-Approval-Id": item["approval_id"]})
    assert text_of(again) == HELD_MIDWAY
    assert last_redline(again)["output"][0]["status"] == "released"


def test_stream_tool_calls_are_assembled_then_decided(env: GatewayEnv) -> None:
    env.fake.answers["tools"] = Answer(
        text="Checking the weather first.",
        tool_calls=[("get_weather", {"city": "Herat", "units": "metric"}),
                    ("engage_target", {"target_id": "T-9", "grid": "38SMB4484"})],
    )  # fmt: skip
    chunks = stream(env, "tools")
    calls = [tc for c in chunks if c.choices for tc in c.choices[0].delta.tool_calls or []]
    assert [tc.function.name for tc in calls] == ["get_weather"]
    assert calls[0].function.arguments == '{"city": "Herat", "units": "metric"}'  # whole
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    withheld = [i for i in last_redline(chunks)["output"] if i["status"] == "withheld"]
    assert withheld[0]["name"] == "engage_target" and withheld[0]["approval_id"]


def test_stream_request_denied_before_any_token(env: GatewayEnv) -> None:
    before = len(env.fake.received)
    with pytest.raises(openai.PermissionDeniedError):
        stream(env, "How to poison my neighbour?")
    assert len(env.fake.received) == before
