"""Subjects are kept only as keyed hashes: no name used appears in the database, the
ledger, the keys or the logs; the secret is the deployment's own (0600); the counts are
shown to an admin or to the deployment's auditor, and to no one else."""

from __future__ import annotations

import logging
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from sqlalchemy import create_engine, text

from redline.aggregate.secret import load_or_create_secret, secret_path
from redline.ledger.content import CONTENT_KEY_ENV, new_content_key
from tests.support.aggregates import (
    AUTHORITY,
    PEOPLE,
    Agent,
    aggregate_gateway,
    first_stopped,
    lookups,
)
from tests.support.fake_upstream import GatewayEnv

ASKED = ["Hanna Moreau", "Emil Haddad"]  # named in text requests, beside PEOPLE[:30]


@pytest.fixture
def log_file(tmp_path: Path) -> Iterator[Path]:
    """Everything Redline and its server log, at DEBUG, into one file."""
    path = tmp_path / "redline.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    loggers = [logging.getLogger(n) for n in ("redline", "uvicorn", "uvicorn.error", "fastapi")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.DEBUG)
    yield path
    for lg, level in zip(loggers, levels, strict=True):
        lg.removeHandler(handler)
        lg.setLevel(level)
    handler.close()


def chat(env: GatewayEnv, prompt: str) -> None:
    client = openai.OpenAI(base_url=env.url + "/v1", api_key=env.keys["agent"], max_retries=0)
    client.chat.completions.create(
        model="alpha-1", messages=[{"role": "user", "content": prompt}], extra_headers=AUTHORITY
    )


def test_no_identifier_in_database_ledger_keys_or_logs(
    tmp_path: Path, log_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = tmp_path / "content.key"
    key.write_text(new_content_key())
    monkeypatch.setenv(CONTENT_KEY_ENV, str(key))  # the deployer seals request content
    with aggregate_gateway(tmp_path, "eu-ai-act-art5") as env:
        chat(env, f"Find the home address of {ASKED[0]}.")  # targeted, under authority: allowed
        agent = Agent(env)
        statuses = [
            i["status"] for b in range(3) for i in agent.run(lookups(PEOPLE[b * 10 :][:10]))
        ]
        assert first_stopped(statuses) == 25  # the person asked about in words counted too
        with pytest.raises(openai.PermissionDeniedError):
            chat(env, f"Track all residents of Lindenau, starting with {ASKED[1]}.")
        db = env.settings.db
    rows = (
        create_engine(f"sqlite:///{db}")
        .connect()
        .execute(text("SELECT subject FROM aggregate_subjects"))
    )
    hashes = [r[0] for r in rows]
    assert len(hashes) == 2 * 25  # 1 asked + 24 looked up, per principal and per deployment
    assert all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes)
    files = [p for p in tmp_path.rglob("*") if p.is_file() and p != key]
    assert any(p.name.endswith(".db") for p in files) and log_file in files
    blobs = b"".join(p.read_bytes() for p in files)
    for name in PEOPLE[:30] + ASKED:
        for form in (name, name.lower(), name.upper()):
            assert form.encode() not in blobs, f"{form!r} found on disk"


def test_the_secret_is_per_deployment_and_private(tmp_path: Path) -> None:
    first = load_or_create_secret(tmp_path / "keys", "default")
    assert load_or_create_secret(tmp_path / "keys", "default") == first  # kept, not renewed
    assert load_or_create_secret(tmp_path / "keys", "other") != first
    mode = stat.S_IMODE(secret_path(tmp_path / "keys", "default").stat().st_mode)
    assert mode == 0o600
    odd = secret_path(tmp_path / "keys", "../etc/passwd")
    assert odd.parent == tmp_path / "keys"


def show(env: GatewayEnv, who: str, deployment: str | None = None) -> httpx.Response:
    params = {"deployment": deployment} if deployment else {}
    return httpx.get(env.url + "/v1/aggregates", params=params,
                     headers={"authorization": f"Bearer {env.keys[who]}"})  # fmt: skip


def test_who_may_see_the_counts(tmp_path: Path) -> None:
    with aggregate_gateway(tmp_path) as env:
        Agent(env).run(lookups(PEOPLE[:3]))
        mine = show(env, "auditor")
        assert mine.status_code == 200
        by_scope = {s["scope"]: s for s in mine.json()["scopes"]}
        assert by_scope["deployment"]["counts"] == {"1h": 3, "24h": 3}
        assert [len(s["hash"]) for s in by_scope["principal"]["subjects"]] == [64] * 3
        assert show(env, "root", "default").json() == mine.json()  # an admin sees any
        for who in ("agent", "approver"):
            denied = show(env, who)
            assert denied.status_code == 403
            assert denied.json()["error"]["code"] == "forbidden"
        hidden = show(env, "outsider", "default")  # another deployment's auditor
        assert hidden.status_code == 404
        assert show(env, "outsider").json()["scopes"] == []  # its own: nothing counted
