"""The chat gateway when something breaks: a clear error in the one shape, never an
unchecked answer."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import openai
import pytest

from redline.classify.rules import RuleClassifier
from redline.classify.types import Classification
from redline.settings import UpstreamConfig
from redline.subject import Subject
from tests.support.fake_upstream import Answer, GatewayEnv, gateway
from tests.support.loopback import free_port


class OutputBlindClassifier(RuleClassifier):
    """The real rules, failing on plain texts (what the gateway sends for an answer)."""

    def classify_batch(self, subjects: Sequence[Subject]) -> list[Classification]:
        if any(s.text is not None for s in subjects):
            raise MemoryError("injected")
        return super().classify_batch(subjects)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayEnv]:
    dead = UpstreamConfig(base_url=f"http://127.0.0.1:{free_port()}/v1", models=["dead-1"])
    with gateway(tmp_path_factory.mktemp("gwf"), timeout_s=0.3,
                 extra_upstreams={"dead": dead}) as e:  # fmt: skip
        yield e


def ask(env: GatewayEnv, prompt: str, model: str = "alpha-1", **kw: Any) -> Any:
    return env.client().chat.completions.create(
        model=model, messages=[{"role": "user", "content": prompt}], **kw
    )


def test_upstream_timeout_is_504(env: GatewayEnv) -> None:
    env.fake.answers["slow"] = Answer(delay_s=1.0)
    with pytest.raises(openai.InternalServerError) as err:
        ask(env, "slow")
    assert err.value.status_code == 504
    assert err.value.code == "upstream_timeout"


def test_connection_refused_is_502(env: GatewayEnv) -> None:
    with pytest.raises(openai.InternalServerError) as err:
        ask(env, "hello", model="dead-1")
    assert (err.value.status_code, err.value.code) == (502, "upstream_unreachable")
    with pytest.raises(openai.InternalServerError):
        ask(env, "hello", model="dead-1", stream=True)


@pytest.mark.parametrize("stream", [False, True])
def test_a_forwarded_request_is_on_the_ledger_with_its_outcome_when_the_upstream_fails(
    env: GatewayEnv, stream: bool
) -> None:
    # Recorded before it was forwarded (its sync deferred to the answer's entry); with no
    # answer, the failure is recorded as the request's outcome, not left as a plain allow.
    store = env.app.state.services.store
    before = store.size()
    with pytest.raises(openai.InternalServerError):
        ask(env, "summarise the convoy fuel plan", model="dead-1", stream=stream)
    assert store.size() == before + 2
    entry, outcome = store.entry(before), store.entry(before + 1)
    assert entry.decision == "allow" and entry.principal == "requester"
    assert outcome.kind == "upstream.failed" and outcome.refers_to == before
    assert outcome.principal == "requester" and outcome.detail["upstream"] == "dead"
    assert outcome.detail["status"] == 502 and outcome.detail["code"]


def test_malformed_json_is_502(env: GatewayEnv) -> None:
    env.fake.answers["broken"] = Answer(malformed=True)
    with pytest.raises(openai.InternalServerError) as err:
        ask(env, "broken")
    assert (err.value.status_code, err.value.code) == (502, "upstream_malformed")


def test_malformed_stream_chunk_ends_with_an_error_event(env: GatewayEnv) -> None:
    env.fake.answers["broken-stream"] = Answer(text="All good here. ", malformed=True)
    store = env.app.state.services.store
    before = store.size()
    with pytest.raises(openai.APIError) as err:
        list(ask(env, "broken-stream", stream=True))
    assert "malformed" in err.value.message
    # the failure is the request's recorded outcome (issue 18.12)
    kinds = [store.entry(i) for i in range(before, store.size())]
    failed = [e for e in kinds if e.kind == "upstream.failed"]
    assert len(failed) == 1 and failed[0].detail["code"] == "upstream_malformed"
    assert failed[0].refers_to == before


def test_timeout_midstream_ends_with_an_error_event(env: GatewayEnv) -> None:
    env.fake.answers["stall"] = Answer(text="Fine so far. " * 3, chunk_chars=13, chunk_delay_s=0.6)
    with pytest.raises(openai.APIError) as err:
        list(ask(env, "stall", stream=True))
    assert "timed out" in err.value.message


def test_classifier_failure_on_the_answer_is_502_never_the_answer(env: GatewayEnv) -> None:
    services = env.app.state.services
    for decider in services._upstream_deciders.values():
        decider.classifier = OutputBlindClassifier()
    env.fake.answers["secret"] = Answer(text="an answer nobody checked")
    try:
        with pytest.raises(openai.InternalServerError) as err:
            ask(env, "secret")
        assert (err.value.status_code, err.value.code) == (502, "policy_check_failed")
        assert "an answer nobody checked" not in err.value.response.text
        with pytest.raises(openai.APIError) as serr:
            list(ask(env, "secret", stream=True))
        assert "could not check" in serr.value.message
    finally:
        for decider in services._upstream_deciders.values():
            decider.classifier = services.classifier
