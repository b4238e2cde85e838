"""The classification budget (issue 18, item 7): a request over the per-request size (its
characters, its messages) is refused with 413, and a principal over its rate of classified
characters with 429 and Retry-After, before any model runs (nothing is decided or
recorded), in the one error shape, through /v1/decide and the chat gateway alike. Requests
within the budget, and other principals, go through."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openai
import pytest

from tests.support.fake_upstream import GatewayEnv
from tests.support.server import running


def _ledger_size(app: Any) -> int:
    return int(app.state.services.store.size())


def test_a_request_over_the_size_budget_is_refused_before_classification(
    tmp_path: Path,
) -> None:
    with running(tmp_path, max_classified_chars=5_000, max_classified_messages=10) as srv:
        before = _ledger_size(srv.app)
        big = {"text": "Summarise the convoy fuel plan. " * 200}  # 6,400 characters
        r = srv.post("a-req", "/v1/decide", big)
        assert r.status_code == 413, r.text
        error = r.json()["error"]
        assert error["code"] == "classification_budget_exceeded"
        assert "at most 5000" in error["message"] and error["type"] == "invalid_request_error"
        chat = {"messages": [{"role": "user", "content": "hello"}] * 11}
        r = srv.post("a-req", "/v1/decide", chat)
        assert r.status_code == 413 and "11 messages" in r.json()["error"]["message"]
        assert _ledger_size(srv.app) == before  # nothing was decided, so nothing recorded
        # Within the budget: decided as usual.
        r = srv.post("a-req", "/v1/decide", {"messages": chat["messages"][:10]})
        assert r.status_code == 200 and r.json()["decision"] == "allow", r.text
        r = srv.post("a-req", "/v1/decide", {"text": "Summarise the convoy fuel plan. " * 150})
        assert r.status_code == 200, r.text


def test_a_principal_over_its_rate_of_classified_characters_gets_429(tmp_path: Path) -> None:
    limits = {"max_classified_chars": 4_000, "classified_chars_burst": 6_000,
              "classified_chars_per_minute": 60.0}  # fmt: skip
    with running(tmp_path, **limits) as srv:
        text = {"text": "Summarise the convoy fuel plan. " * 100}  # 3,200 characters
        assert srv.post("a-req", "/v1/decide", text).status_code == 200
        before = _ledger_size(srv.app)
        r = srv.post("a-req", "/v1/decide", text)
        assert r.status_code == 429, r.text
        assert r.json()["error"]["code"] == "classification_rate_exceeded"
        assert r.json()["error"]["type"] == "rate_limit_error"
        assert int(r.headers["Retry-After"]) >= 1
        assert _ledger_size(srv.app) == before
        # Another principal has its own budget; a small request of the first still fits.
        assert srv.post("a-req2", "/v1/decide", text).status_code == 200
        assert srv.post("a-req", "/v1/decide", {"text": "hi"}).status_code == 200


def test_the_chat_gateway_refuses_over_budget_before_forwarding(env: GatewayEnv) -> None:
    settings = env.app.state.services.settings
    many = [{"role": "user", "content": "hello"}] * (settings.max_classified_messages + 1)
    before = (_ledger_size(env.app), len(env.fake.received))
    with pytest.raises(openai.APIStatusError) as err:
        env.client().chat.completions.create(model="alpha-1", messages=many)
    assert err.value.status_code == 413
    assert err.value.code == "classification_budget_exceeded"
    assert (_ledger_size(env.app), len(env.fake.received)) == before
    ok = env.client().chat.completions.create(model="alpha-1", messages=many[:5])
    assert ok.choices[0].message.content
