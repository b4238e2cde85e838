"""Authentication, attestation trust, rate limits, security headers, local bootstrap, CLI."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from redline.auth.bootstrap import bootstrap_local
from redline.auth.store import PrincipalStore
from tests.support.server import ENGAGE, Server, running

TS = {"text": "summarise one suspect's call records and find where this person lives"}


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer", "Basic abc", "Bearer nope", "Bearer rl_0123456789abcdef_" + "x" * 43],
)
def test_missing_or_wrong_key_is_401(srv: Server, header: str | None) -> None:
    headers = {} if header is None else {"authorization": header}
    for method, path in (("POST", "/v1/decide"), ("GET", "/v1/policies"), ("GET", "/v1/approvals")):
        r = srv.client.request(method, srv.base + path, json={"text": "hi"}, headers=headers)
        assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"


def test_open_without_key_only_health_and_docs(srv: Server) -> None:
    for path in ("/healthz", "/openapi.json", "/docs"):
        assert srv.client.get(srv.base + path).status_code == 200


def test_tampered_secret_is_401(srv: Server) -> None:
    key = srv.keys["a-req"]
    bad = key[:-1] + ("A" if key[-1] != "A" else "B")
    r = srv.client.post(
        srv.base + "/v1/decide", json={"text": "hi"}, headers={"authorization": f"Bearer {bad}"}
    )
    assert r.status_code == 401


def test_revoked_and_rotated_keys_fail_at_once(srv: Server) -> None:
    assert srv.post("a-req", "/v1/decide", {"text": "hi"}).status_code == 200
    store = srv.app.state.services.principals
    new = store.rotate("a-req")
    assert srv.post("a-req", "/v1/decide", {"text": "hi"}).status_code == 401  # old key
    srv.keys["a-req"] = new
    assert srv.post("a-req", "/v1/decide", {"text": "hi"}).status_code == 200
    store.revoke("a-req")
    assert srv.post("a-req", "/v1/decide", {"text": "hi"}).status_code == 401


def test_principal_and_deployment_come_from_the_key(srv: Server) -> None:
    body = {
        "text": "hi",
        "context": {"principal": {"id": "a-cmd", "roles": ["admin"]}, "deployment": "beta"},
    }
    d = srv.post("a-req", "/v1/decide", body).json()
    services = srv.app.state.services
    entry = services.store.entry(d["ledger_index"])
    assert entry.principal == "a-req" and entry.deployment == "alpha"


def test_client_cannot_pick_a_policy(srv: Server) -> None:
    for extra in ({"policy": "dodd-3000-09"}, {"packs": ["dodd-3000-09"]}):
        r = srv.post("a-req", "/v1/decide", {"text": "hi", **extra})
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_request"
    r = srv.post("a-req", "/v1/decide", {"text": "hi", "context": {"trust_all": True}})
    assert r.status_code == 400


def test_untrusted_attestation_ignored_and_recorded(srv: Server) -> None:
    body = {**TS, "context": {"authority_ref": "FISA-2024-17"}}
    d = srv.post("a-req", "/v1/decide", body).json()
    assert d["decision"] == "hold" and d["ignored_attestations"] == ["authority_ref"]
    entry = srv.app.state.services.store.entry(d["ledger_index"])
    assert entry.detail["ignored_attestations"] == ["authority_ref"]
    trusted = srv.post("a-att", "/v1/decide", body).json()  # a-att is trusted for authority_ref
    assert trusted["ignored_attestations"] == []


def test_rate_limit_429_with_retry_after(tmp_path: Path) -> None:
    with running(tmp_path, rate_limit_per_minute=6, rate_limit_burst=3) as srv:
        codes = [srv.get("a-req", "/v1/policies").status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        r = srv.get("a-req", "/v1/policies")
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        assert r.json()["error"]["type"] == "rate_limit_error"
        assert srv.get("a-cmd", "/v1/policies").status_code == 200  # per principal


def test_security_headers_everywhere(srv: Server) -> None:
    for r in (
        srv.client.get(srv.base + "/healthz"),
        srv.get("a-req", "/v1/approvals"),
        srv.client.post(
            srv.base + "/v1/decide",
            content=b"\xff\xfe",
            headers={"content-type": "application/json"},
        ),
    ):
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["content-security-policy"].startswith("default-src 'self'")
        assert r.headers["referrer-policy"] == "no-referrer"
        assert r.headers["cache-control"] == "no-store"


def test_request_content_not_logged(srv: Server, caplog: pytest.LogCaptureFixture) -> None:
    secret = "grid 38SMB4484 secret-marker-7731"
    srv.post("a-req", "/v1/decide", {"text": f"fire for effect on {secret}"})
    srv.post("a-req", "/v1/decide", {"text": 12, "context": {"purpose": secret}})
    assert "secret-marker-7731" not in caplog.text


def test_store_keeps_only_salted_hashes(tmp_path: Path) -> None:
    store = PrincipalStore(str(tmp_path / "p.db"))
    _, key = store.add("alice", ["approver"], "alpha")
    raw = (tmp_path / "p.db").read_bytes()
    assert key.split("_", 2)[2].encode() not in raw
    info = store.listing()[0]
    assert info.key_ids == (key.split("_")[1],) and not info.revoked
    assert store.authenticate(key).roles == frozenset({"approver"})
    with pytest.raises(Exception, match="already exists"):
        store.add("alice", ["approver"], "alpha")
    with pytest.raises(Exception, match="invalid role"):
        store.add("bob", ["general"], "alpha")


def test_first_start_bootstrap(tmp_path: Path) -> None:
    store = PrincipalStore(str(tmp_path / "p.db"))
    path = tmp_path / "var" / "local-keys.json"
    keys = bootstrap_local(store, path)
    assert keys and set(keys) == {
        "local-admin",
        "demo-requester",
        "demo-approver",
        "demo-commander",
    }
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert json.loads(path.read_text()) == keys
    assert store.authenticate(keys["demo-commander"]).deployment == "default"
    assert bootstrap_local(store, path) is None  # only on first start


def test_principals_cli(tmp_path: Path) -> None:
    db = str(tmp_path / "c.db")
    cli = [sys.executable, "-m", "redline.cli.main", "principals"]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*cli, *args, "--db", db], capture_output=True, text=True, timeout=60)

    added = run("add", "carol", "--role", "commander", "--deployment", "alpha")
    key = added.stdout.strip()
    assert added.returncode == 0 and key.startswith("rl_")
    listed = run("list")
    assert "carol" in listed.stdout and key.split("_", 2)[2] not in listed.stdout
    rotated = run("rotate", "carol").stdout.strip()
    store = PrincipalStore(db)
    assert store.authenticate(rotated).id == "carol"
    with pytest.raises(Exception, match="invalid API key"):
        store.authenticate(key)
    assert run("revoke", "carol").returncode == 0
    with pytest.raises(Exception, match="invalid API key"):
        store.authenticate(rotated)
    assert run("add", "dave", "--role", "pilot", "--deployment", "alpha").returncode == 2


def test_hold_response_over_openai_style_bearer(srv: Server) -> None:
    r = httpx.post(srv.base + "/v1/decide", json=ENGAGE, headers=srv.h("a-req"))
    assert r.status_code == 200, r.text
    decision = r.json()
    assert decision["decision"] == "hold"
    assert re.fullmatch(r"ap_[0-9a-f]{24}", decision["approval_id"]), decision["approval_id"]
    approval = srv.get("a-req", f"/v1/approvals/{decision['approval_id']}").json()
    assert approval["state"] == "pending" and approval["requester"] == "a-req"
    assert approval["subject_hash"] == decision["subject_hash"]


@pytest.fixture(params=["sqlite", "postgres"])
def principals(request: pytest.FixtureRequest) -> Iterator[PrincipalStore]:
    db = request.getfixturevalue("db_path" if request.param == "sqlite" else "postgres_url")
    store = PrincipalStore(db)
    yield store
    store.close()


def test_both_lookups_give_one_answer(principals: PrincipalStore) -> None:
    from redline.errors import AuthError

    _, key = principals.add("erin", ["approver"], "alpha")
    _, other = principals.add("frank", ["requester"], "alpha")
    on_loop = principals.authenticate_here(key)
    sqlite = principals.engine.url.get_backend_name() == "sqlite"
    # On the event loop where the file is local; PostgreSQL always goes to a worker thread.
    assert (on_loop is not None) == sqlite
    assert principals.authenticate(key) == (on_loop or principals.authenticate(key))
    assert principals.authenticate(key).roles == frozenset({"approver"})
    wrong_secret = key[:-4] + ("aaaa" if not key.endswith("aaaa") else "bbbb")
    unknown_id = "rl_" + "0" * 16 + "_" + key.split("_", 2)[2]
    principals.revoke("frank")  # at once, on both paths: nothing is cached
    for bad in (wrong_secret, unknown_id, "rl_nope", other):
        with pytest.raises(AuthError, match="invalid API key"):
            principals.authenticate(bad)
        if sqlite:
            with pytest.raises(AuthError, match="invalid API key"):
                principals.authenticate_here(bad)
        else:
            assert principals.authenticate_here(bad) is None


def test_the_lookup_on_the_loop_reads_a_path_with_uri_characters(tmp_path: Path) -> None:
    odd = tmp_path / "state #1?x=%20" / "redline.db"
    odd.parent.mkdir()
    store = PrincipalStore(str(odd))
    _, key = store.add("hal", ["requester"], "alpha")
    assert odd.exists()  # the file named, not one cut at its "?"
    principal = store.authenticate_here(key)
    assert principal is not None and principal.id == "hal"
    store.close()


def test_the_lookup_on_the_loop_never_waits_for_a_lock(db_path: str) -> None:
    import sqlite3

    store = PrincipalStore(db_path)
    _, key = store.add("gina", ["requester"], "alpha")
    store.engine.dispose()  # no pooled connection keeps the WAL index open
    holder = sqlite3.connect(db_path, isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")  # nobody else may read the file now
    try:
        import concurrent.futures

        # Gives up (a worker thread will wait instead): a liveness bound, not a speed target.
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            assert pool.submit(store.authenticate_here, key).result(timeout=10) is None
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert store.authenticate_here(key) is not None
    store.close()
