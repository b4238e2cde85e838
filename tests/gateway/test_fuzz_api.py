"""Fuzzing: schemathesis over every operation of the running server's OpenAPI document
(with a valid key, over loopback: no 5xx allowed), and hypothesis on the parsers."""

from __future__ import annotations

import json
import re
import string
import unicodedata
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from pydantic import ValidationError
from schemathesis import GenerationMode

from redline.canonical import canonical_json
from redline.classify.normalize import normalize
from redline.gateway.guard import json_depth
from redline.subject import DecideRequest
from tests.support.server import running

EXAMPLES = 15  # per operation and generation mode: the whole run stays well under 60 s
FIGURES: dict[str, int] = {"cases": 0, "server_errors": 0}


def _server_error(response: Any) -> bool:
    """A crash: any 5xx but a deliberate 503 in the one error shape (no upstream model
    configured for the chat gateway, ledger unavailable)."""
    if response.status_code < 500:
        return False
    if response.status_code == 503:
        try:
            return response.json()["error"]["code"] == "internal_error"
        except (ValueError, KeyError, TypeError):
            return True
    return True


def test_schemathesis_no_server_errors(tmp_path: Path) -> None:
    with running(tmp_path, rate_limit_per_minute=0) as srv:
        schema = schemathesis.openapi.from_url(srv.base + "/openapi.json")
        headers = srv.h("a-cmd")
        failures: list[str] = []
        operations = [r.ok() for r in schema.get_all_operations()]
        assert len(operations) >= 8
        for op in operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

                @given(case=op.as_strategy(generation_mode=mode))
                @settings(
                    max_examples=EXAMPLES,
                    deadline=None,
                    database=None,
                    suppress_health_check=list(HealthCheck),
                )
                def run(case: Any) -> None:
                    FIGURES["cases"] += 1
                    response = case.call(headers=headers, timeout=30)
                    if _server_error(response):
                        FIGURES["server_errors"] += 1
                        failures.append(
                            f"{case.operation.label}: {response.status_code} {response.text[:200]}"
                        )

                try:
                    run()
                except Exception as exc:  # unsatisfiable negative strategies are fine
                    if "Unsatisfiable" not in type(exc).__name__:
                        raise
        print(
            f"schemathesis: {FIGURES['cases']} cases over {len(operations)} operations, "
            f"{FIGURES['server_errors']} server errors"
        )
        assert not failures, sorted(set(f[:160] for f in failures))


# -- hypothesis on the parsers ---------------------------------------------------------

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=30,
)


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


@given(JSON)
@settings(max_examples=300, deadline=None)
def test_json_depth_matches_the_parsed_value(value: Any) -> None:
    text = json.dumps(value)
    assert json_depth(text) == _depth(json.loads(text))


def _scanned_depth(raw: str) -> int:
    """The guard's rule read literally, one character at a time: the oracle."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in raw:
        if in_string:
            escaped, in_string = (False, True) if escaped else (ch == "\\", ch != '"')
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


@given(st.text(max_size=300))
@settings(max_examples=300, deadline=None)
def test_json_depth_total_on_any_text(text: str) -> None:
    assert json_depth(text) == _scanned_depth(text)


@given(st.text(alphabet='[]{}"\\a:, ', max_size=200))
@settings(max_examples=500, deadline=None)
def test_json_depth_follows_strings_and_escapes_on_malformed_text(text: str) -> None:
    # Unterminated strings, stray escapes, unbalanced brackets: what a hostile body holds.
    assert json_depth(text) == _scanned_depth(text)


@given(JSON)
@settings(max_examples=300, deadline=None)
def test_canonical_json_is_stable(value: Any) -> None:
    once = canonical_json(value)
    assert canonical_json(json.loads(once)) == once
    once.decode("utf-8")


@given(st.text(max_size=400))
@settings(max_examples=300, deadline=None)
def test_normalize_leaves_no_invisible_or_control_characters(text: str) -> None:
    out = normalize(text)
    assert out == out.strip()
    assert not re.search(r"[\t\r\f\v]| {2,}", out), out
    assert not [c for c in out if c != "\n" and unicodedata.category(c) in ("Cc", "Cf", "Cs")]


@given(st.text(alphabet=string.printable, max_size=200))
@settings(max_examples=300, deadline=None)
def test_normalize_is_idempotent_on_ascii(text: str) -> None:
    # Only on ASCII: look-alikes folded next to a combining accent, or joined into one
    # word by a leetspeak fold, are folded further by a second pass.
    out = normalize(text)
    assert normalize(out) == out


@given(
    st.dictionaries(
        st.sampled_from(["text", "messages", "tool_call", "context", "id", "x"]), JSON, max_size=4
    )
)
@settings(max_examples=400, deadline=None)
def test_subject_validation_raises_only_validation_errors(raw: dict[str, Any]) -> None:
    try:
        request = DecideRequest.model_validate(raw)
    except ValidationError:
        return
    request.subject().content_hash()


@pytest.mark.parametrize(
    ("body", "depth"), [("[" * 5000, 5000), ('{"a":' * 5000, 5000), ('"\\' * 3, 0)]
)
def test_regression_pathological_json_depth(body: str, depth: int) -> None:
    assert json_depth(body) == depth
