"""The console over HTTP against a real server on loopback: sign-in, sessions, CSRF, and
that each page shows what the API would show its principal, and no more."""

from __future__ import annotations

import io
import re
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update

from redline.ledger.bundle import verify_bundle
from redline.tables import console_sessions_table as sessions_table
from tests.support.console import console_server, csrf_of, sign_in
from tests.support.server import ENGAGE, Server, running


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with console_server(tmp_path_factory.mktemp("pages")) as s:
        yield s


def _alert(html: str) -> str:
    found = re.search(r'role="alert">([^<]*)<', html)
    assert found, html
    return found.group(1)


def test_the_session_cookie_is_httponly_strict_and_secure_behind_tls(srv: Server) -> None:
    client = httpx.Client(base_url=srv.base)
    page = client.get("/console/login")
    r = client.post("/console/login", data={"key": srv.keys["a-cmd"], "csrf": csrf_of(page.text)})
    session = next(c for c in r.headers.get_list("set-cookie") if c.startswith("redline_console="))
    flags = [f.strip().lower() for f in session.split(";")]
    assert "httponly" in flags and "samesite=strict" in flags and "path=/console" in flags
    assert "secure" not in flags
    # behind a TLS proxy on loopback (uvicorn trusts X-Forwarded-Proto from 127.0.0.1);
    # httpx keeps Secure cookies from plain http, so they are carried by hand
    tls = {"x-forwarded-proto": "https"}
    page = httpx.get(f"{srv.base}/console/login", headers=tls)
    nonce = page.headers["set-cookie"].split(";")[0]
    assert "secure" in page.headers["set-cookie"].lower()
    r = httpx.post(f"{srv.base}/console/login", headers={**tls, "cookie": nonce},
                   data={"key": srv.keys["a-cmd"], "csrf": csrf_of(page.text)})  # fmt: skip
    session = next(c for c in r.headers.get_list("set-cookie") if c.startswith("redline_console="))
    assert "secure" in [f.strip().lower() for f in session.split(";")]


@pytest.mark.parametrize(
    "key",
    [
        "not-a-key",
        "rl_0123456789abcdef_" + "A" * 43,  # a key id that does not exist
        "wrong-secret",  # a real key id with another secret
    ],
)
def test_a_wrong_key_gets_the_same_answer_as_from_the_api(srv: Server, key: str) -> None:
    if key == "wrong-secret":
        key = srv.keys["a-cmd"][:20] + "B" * 43
    api = httpx.get(f"{srv.base}/v1/approvals", headers={"authorization": f"Bearer {key}"})
    client = httpx.Client(base_url=srv.base)
    page = client.get("/console/login")
    r = client.post("/console/login", data={"key": key, "csrf": csrf_of(page.text)})
    assert r.status_code == api.status_code == 401
    assert _alert(r.text) == api.json()["error"]["message"]
    assert "redline_console=" not in r.headers.get("set-cookie", "")


def test_signing_out_ends_the_session_on_the_server(srv: Server) -> None:
    client = sign_in(srv, "a-aud")
    token = client.cookies["redline_console"]
    page = client.get("/console/decisions")
    assert page.status_code == 200
    r = client.post("/console/logout", data={"csrf": csrf_of(page.text)})
    assert r.status_code == 303 and r.headers["location"] == "/console/login"
    replay = httpx.get(f"{srv.base}/console/decisions", cookies={"redline_console": token})
    assert replay.status_code == 303 and replay.headers["location"] == "/console/login"


def test_sessions_expire_and_die_with_their_key(srv: Server) -> None:
    expiring = sign_in(srv, "a-aud")
    engine = srv.app.state.services.principals.engine
    with engine.begin() as conn:
        conn.execute(update(sessions_table).values(expires_at=time.time() - 1))
    assert expiring.get("/console/ledger").status_code == 303
    srv.app.state.services.principals.add("a-temp", ["auditor"], "alpha")
    srv.keys["a-temp"] = srv.app.state.services.principals.rotate("a-temp")
    client = sign_in(srv, "a-temp")
    assert client.get("/console/ledger").status_code == 200
    srv.app.state.services.principals.revoke("a-temp")
    assert client.get("/console/ledger").status_code == 303


def test_every_state_changing_form_needs_its_csrf_token(srv: Server) -> None:
    aid = srv.hold()
    client = sign_in(srv, "a-cmd")
    for path, data in [
        (f"/console/approvals/{aid}/approve", {"comment": "x"}),
        (f"/console/approvals/{aid}/reject", {"reason": "x"}),
        ("/console/logout", {}),
    ]:
        assert client.post(path, data=data).status_code == 403, path
        assert client.post(path, data={**data, "csrf": "f" * 64}).status_code == 403, path
    fresh = httpx.Client(base_url=srv.base)
    fresh.get("/console/login")
    r = fresh.post("/console/login", data={"key": srv.keys["a-cmd"]})
    assert r.status_code == 403 and "redline_console=" not in r.headers.get("set-cookie", "")
    assert srv.get("a-cmd", f"/v1/approvals/{aid}").json()["state"] == "pending"


def test_a_rejection_needs_a_reason_and_is_recorded(srv: Server) -> None:
    aid = srv.hold()
    client = sign_in(srv, "a-cmd")
    page = client.get(f"/console/approvals/{aid}")
    csrf = csrf_of(page.text)
    r = client.post(f"/console/approvals/{aid}/reject", data={"csrf": csrf, "reason": " "})
    assert r.status_code == 400 and "needs a reason" in r.text
    r = client.post(f"/console/approvals/{aid}/reject", data={"csrf": csrf, "reason": "wrong grid"})
    assert r.status_code == 303
    detail = srv.get("a-cmd", f"/v1/approvals/{aid}").json()
    assert detail["state"] == "rejected" and detail["reject_reason"] == "wrong grid"
    assert "wrong grid" in client.get(f"/console/approvals/{aid}").text


def test_decisions_show_content_only_to_those_who_read_it(srv: Server) -> None:
    srv.post("a-req", "/v1/decide", {"text": "translate the village meeting notes"})
    srv.post("b-req", "/v1/decide", {"text": "beta's own logistics memo"})
    commander = sign_in(srv, "a-cmd").get("/console/decisions").text
    auditor = sign_in(srv, "a-aud").get("/console/decisions").text
    requester = sign_in(srv, "a-req2").get("/console/decisions").text
    stranger = sign_in(srv, "b-cmd").get("/console/decisions").text
    assert "village meeting" in commander and "T-17" in commander
    assert "village meeting" not in auditor and "T-17" not in auditor
    assert "commitment" in auditor and ">a-req<" in auditor
    assert "No decisions match" in requester  # a-req2 asked nothing: a-req's are not theirs
    assert "beta&#39;s own logistics" in stranger or "beta's own logistics" in stranger
    assert "village meeting" not in stranger and "T-17" not in stranger


def test_decisions_filter_by_decision_category_pack_principal_and_time(srv: Server) -> None:
    srv.hold()
    client = sign_in(srv, "a-cmd")

    def indexes(query: str) -> set[str]:
        html = client.get(f"/console/decisions?{query}").text
        return set(re.findall(r'href="/console/ledger/entries/(\d+)"', html))

    everything = indexes("")
    holds = indexes("decision=hold")
    force = indexes("category=use_of_force")
    assert holds and holds < everything and holds <= force
    assert indexes("decision=hold&pack=provider-redlines") == holds
    assert indexes("pack=dodd-3000-09") == set()
    assert indexes("principal=a-req") and indexes("principal=nobody") == set()
    assert indexes("since=2000-01-01T00:00&until=2999-01-01T00:00") == everything
    assert indexes("since=2999-01-01T00:00") == set()


def test_the_bundle_is_the_whole_log_so_only_an_admin_takes_it_across_deployments(
    srv: Server, tmp_path: Path
) -> None:
    srv.post("b-req", "/v1/decide", {"text": "beta's fuel plan"})
    srv.get("a-aud", "/v1/ledger/checkpoint?fresh=true")
    r = sign_in(srv, "a-aud").get("/console/ledger/bundle")
    assert r.status_code == 403 and "other deployments" in r.text
    assert sign_in(srv, "a-req").get("/console/ledger/bundle").status_code == 403
    r = sign_in(srv, "root").get("/console/ledger/bundle")
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    zipfile.ZipFile(io.BytesIO(r.content)).extractall(tmp_path)
    verifier = srv.app.state.services.checkpointer.signer.verifier()
    report = verify_bundle(tmp_path / "redline-bundle", verifier)
    assert report.size == srv.app.state.services.store.size() and report.checkpoints


def test_human_control_charts_the_apis_statistics(srv: Server) -> None:
    aid = srv.hold()
    srv.post("a-cmd", f"/v1/approvals/{aid}/approve")  # at once: faster than 10 s
    html = sign_in(srv, "a-aud").get("/console/control").text
    stats = srv.get("a-aud", "/v1/approvals/stats").json()
    assert sum(b["count"] for b in stats["time_to_decision_histogram"]) >= 1
    assert html.count("<rect") >= len(stats["time_to_decision_histogram"])
    assert aid in html and 'class="warn"' in html
    assert sign_in(srv, "a-req").get("/console/control").status_code == 403


def test_pages_need_a_session_and_the_api_keeps_its_json_errors(srv: Server) -> None:
    r = httpx.get(f"{srv.base}/console/approvals")
    assert r.status_code == 303 and r.headers["location"] == "/console/login"
    r = httpx.get(f"{srv.base}/console/api/ledger/entries/0/proof")
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    r = httpx.get(f"{srv.base}/v1/approvals")
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"


def test_every_asset_is_served_by_redline(srv: Server) -> None:
    client = sign_in(srv, "a-aud")
    for path in ["/console/login", "/console/approvals", "/console/ledger", "/console/control"]:
        html = client.get(path).text
        refs = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert refs and all(r.startswith("/console") for r in refs), (path, refs)
    for asset in ["console.css", "console.js", "verify.js"]:
        assert client.get(f"/console/static/{asset}").status_code == 200


def test_policies_show_the_deployments_packs_with_clauses_and_versions(srv: Server) -> None:
    html = sign_in(srv, "a-apr").get("/console/policies").text
    assert "provider-redlines v1.1.0" in html and "PR-3.1-use-of-force" in html
    assert "no application of force without the approval of a commander" in html
    assert "dodd-3000-09" not in html  # not in force for alpha
    assert ENGAGE["tool_call"]["name"] not in html


def test_the_ledger_page_says_so_when_no_checkpoint_is_signed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No ledger key anywhere, ./var/keys included: nothing signs checkpoints.
    monkeypatch.setenv("REDLINE_KEYS_DIR", str(tmp_path / "no-ledger-key"))
    with running(tmp_path) as bare:
        assert bare.app.state.services.checkpointer is None
        r = sign_in(bare, "a-aud").get("/console/ledger")
        assert r.status_code == 404 and "no checkpoint has been signed" in r.text
        assert sign_in(bare, "a-req").get("/console/ledger").status_code == 403


def test_an_admin_reads_another_deployments_approval_but_is_offered_no_vote(srv: Server) -> None:
    aid = srv.hold()
    client = sign_in(srv, "root")
    page = client.get(f"/console/approvals/{aid}")
    assert page.status_code == 200 and "T-17" in page.text
    assert 'id="approve"' not in page.text and "its own deployment" in page.text
    assert aid not in client.get("/console/approvals/queue").text
    r = client.post(f"/console/approvals/{aid}/approve", data={"csrf": csrf_of(page.text)})
    assert r.status_code == 403 and "its own deployment" in r.text
    assert srv.get("a-cmd", f"/v1/approvals/{aid}").json()["state"] == "pending"
