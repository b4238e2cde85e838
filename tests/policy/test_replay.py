"""`redline replay` / POST /v1/replay: recorded traffic re-decided under a candidate, with
no side effect but one `replay` ledger entry. Over a real server on loopback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from redline.cli.main import app
from redline.ledger.content import CONTENT_KEY_ENV, new_content_key
from redline.ledger.entry import LedgerEntry, commit
from redline.ledger.store import LedgerStore, Sealed
from redline.policy.replay import result_hash
from tests.support.server import CYBER, ENGAGE, Server, running

CANDIDATE = {"since": "7d", "policy": ["all-lawful-purposes"]}
TRACKING = {"text": "Summarise one suspect's call records from last week."}
CAMERAS = {"text": "Face-match everyone on the city cameras against the watchlist."}
FUEL = {"text": "Draft the convoy fuel plan for 12 trucks."}


def _traffic(srv: Server) -> None:
    """alpha's traffic: holds (which open approvals), a deny, an allow, and a tracking
    request once with a trusted authority (a-att) and once with an untrusted one."""
    for body in (ENGAGE, CYBER, CAMERAS, FUEL):
        assert srv.post("a-req", "/v1/decide", body).status_code == 200
    warrant = {**TRACKING, "context": {"authority_ref": "FISA order 24-117"}}
    assert srv.post("a-att", "/v1/decide", warrant).json()["decision"] == "hold"
    assert srv.post("a-req", "/v1/decide", warrant).json()["ignored_attestations"]
    assert srv.post("b-req", "/v1/decide", CYBER).status_code == 200


def _admins(srv: Server) -> None:
    principals = srv.app.state.services.principals
    for name, deployment in (("a-admin", "alpha"), ("b-admin", "beta")):
        srv.keys[name] = principals.add(name, ["admin"], deployment)[1]


def _store(srv: Server) -> LedgerStore:
    store = srv.app.state.services.store
    assert isinstance(store, LedgerStore)
    return store


def _approvals(srv: Server) -> int:
    return len(srv.get("a-apr", "/v1/approvals?state=all").json())


def _changed(body: dict[str, Any]) -> dict[int, tuple[str, str]]:
    return {c["ref"]: (c["a"]["effect"], c["b"]["effect"]) for c in body["changed"]}


def test_replay_adds_one_ledger_entry_and_opens_no_approval(tmp_path: Path) -> None:
    with running(tmp_path) as srv:
        _admins(srv)
        _traffic(srv)
        store = _store(srv)
        size, approvals = store.size(), _approvals(srv)
        assert approvals >= 2  # the held engagement and cyber requests opened approvals
        r = srv.post("a-admin", "/v1/replay", CANDIDATE)
        assert r.status_code == 200, r.text
        body = r.json()
        assert store.size() == size + 1
        assert _approvals(srv) == approvals
        entry = store.entry(size)
        assert body["ledger_index"] == size
        assert (entry.kind, entry.principal, entry.deployment) == ("replay", "a-admin", "alpha")
        assert entry.policies == {"all-lawful-purposes": body["b"][0]["sha256"]}
        assert entry.detail["result_sha256"] == body["result_sha256"] == result_hash(body)
        assert body["window"]["replayed"] == 6  # alpha's decisions, not beta's
        changed = _changed(body).values()
        # cyber: held for an approver by the provider, allowed under all lawful purposes;
        # the camera face-match: denied by the provider, held for an authority by ALP.
        assert ("hold", "allow") in changed and ("deny", "hold") in changed
        assert body["counts"]["a"]["hold"] >= 3  # engagement, cyber, both tracking requests


def test_replay_decides_on_the_attestations_that_counted(tmp_path: Path) -> None:
    with running(tmp_path) as srv:
        _admins(srv)
        _traffic(srv)
        store = _store(srv)
        body = srv.post("a-admin", "/v1/replay", CANDIDATE).json()
        entries = [(i, store.entry(i)) for i in range(store.size())]
        tracked = [
            i
            for i, e in entries
            if e.kind == "decision" and e.deployment == "alpha"
            and e.categories.get("targeted_surveillance", 0) >= 0.5
        ]  # fmt: skip
        assert len(tracked) == 2
        trusted, untrusted = tracked
        assert store.entry(trusted).detail["facts"] == {"authority_ref": True}
        assert "facts" not in store.entry(untrusted).detail
        # ALP allows surveillance with an authority: only the trusted one changes.
        assert _changed(body).get(trusted) == ("hold", "allow")
        assert untrusted not in _changed(body)


@pytest.mark.parametrize("who", ["a-req", "a-apr", "a-cmd", "a-aud"])
def test_only_an_admin_may_replay(tmp_path: Path, who: str) -> None:
    with running(tmp_path) as srv:
        size = _store(srv).size()
        r = srv.post(who, "/v1/replay", CANDIDATE)
        assert r.status_code == 403
        assert r.json()["error"]["code"] == "forbidden"
        assert _store(srv).size() == size
        anonymous = srv.client.post(srv.base + "/v1/replay", json=CANDIDATE)
        assert anonymous.status_code == 401


def test_another_deployments_admin_replays_only_its_own(tmp_path: Path) -> None:
    with running(tmp_path) as srv:
        _admins(srv)
        _traffic(srv)
        body = srv.post("b-admin", "/v1/replay", CANDIDATE).json()
        store = _store(srv)
        assert body["window"]["replayed"] == 1  # beta's one request
        assert all(store.entry(ref).deployment == "beta" for ref in _changed(body))
        assert store.entry(body["ledger_index"]).deployment == "beta"


def test_the_window_leaves_older_entries_out(tmp_path: Path) -> None:
    with running(tmp_path) as srv:
        _admins(srv)
        store = _store(srv)
        salt, commitment = commit(CYBER)
        old = LedgerEntry(time="2020-01-01T00:00:00Z", deployment="alpha", principal="a-req",
                          commitment=commitment, decision="hold")  # fmt: skip
        store.append_many([Sealed(old, CYBER, salt)])
        assert srv.post("a-req", "/v1/decide", CYBER).status_code == 200
        body = srv.post("a-admin", "/v1/replay", CANDIDATE).json()
        assert body["window"]["replayed"] == 1
        assert list(_changed(body)) == [1]
        everything = srv.post("a-admin", "/v1/replay", {**CANDIDATE, "since": "9999w"}).json()
        assert everything["window"]["replayed"] == 2


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"since": "a week", "policy": ["all-lawful-purposes"]}, "invalid_request"),
        ({"since": "7d", "policy": ["nope"]}, "unknown_policy"),
        ({"since": "7d", "policy": []}, "invalid_request"),
    ],
)
def test_bad_requests_are_refused_before_any_work(
    tmp_path: Path, body: dict[str, Any], code: str
) -> None:
    with running(tmp_path) as srv:
        _admins(srv)
        size = _store(srv).size()
        r = srv.post("a-admin", "/v1/replay", body)
        assert r.status_code == 400
        assert r.json()["error"]["code"] == code
        assert _store(srv).size() == size


def test_cli_replay(tmp_path: Path) -> None:
    with running(tmp_path) as srv:
        _admins(srv)
        _traffic(srv)
        args = ["replay", "--since", "7d", "--policy", "all-lawful-purposes", "--url", srv.base,
                "--key", srv.keys["a-admin"], "--chart", str(tmp_path / "shift.svg")]  # fmt: skip
        done = CliRunner().invoke(app, args)
        assert done.exit_code == 0, done.output
        out = " ".join(done.stdout.split())
        assert "6 decided" in out and "replayed 6 decisions of alpha since 7d" in out
        assert f"recorded as ledger entry {_store(srv).size() - 1}" in out
        assert "<svg" in (tmp_path / "shift.svg").read_text()
        refused = CliRunner().invoke(app, [*args[:-4], "--key", srv.keys["a-req"]])
        assert refused.exit_code == 1 and "403 forbidden" in refused.output


def test_replay_reads_sealed_content_through_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = tmp_path / "content.key"
    key.write_text(new_content_key())
    monkeypatch.setenv(CONTENT_KEY_ENV, str(key))
    with running(tmp_path) as srv:
        _admins(srv)
        assert srv.post("a-req", "/v1/decide", CYBER).status_code == 200
        store = _store(srv)
        raw = store._content(0)
        assert raw is not None and b"SCADA" not in raw  # sealed at rest
        body = srv.post("a-admin", "/v1/replay", CANDIDATE).json()
        assert body["window"]["replayed"] == 1 and body["invalid"] == []
        assert _changed(body) == {0: ("hold", "allow")}
