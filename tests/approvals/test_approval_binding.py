"""Who may decide an approval, and when its action token exists (issue 18.1 and 18.3).

An approval is decided only by principals of its own deployment: another deployment's
admin and commander may read it, never vote. The action token is issued only by the resume
that re-decides the request; `GET /v1/approvals/{id}` never shows it, and `/redeem` needs
the action and compares its hash.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from redline.approvals.queries import load_row
from redline.approvals.token import verify_action_token
from tests.support.server import ENGAGE, Server, running


@pytest.fixture
def srv(tmp_path: Path) -> Iterator[Server]:
    with running(tmp_path) as s:
        _, key = s.app.state.services.principals.add("bravo-x", ["admin", "commander"], "beta")
        s.keys["bravo-x"] = key
        yield s


def _err(r: object) -> tuple[int, str]:
    return r.status_code, str(r.json()["error"]["code"])  # type: ignore[attr-defined]


def _kinds(srv: Server) -> list[str]:
    store = srv.app.state.services.store
    return [store.entry(i).kind for i in range(store.size())]


def test_another_deployments_admin_and_commander_may_not_decide(srv: Server) -> None:
    aid = srv.hold()  # alpha's requester asks for force
    # An admin reads across deployments...
    assert srv.get("bravo-x", f"/v1/approvals/{aid}").json()["state"] == "pending"
    # ...but never votes, whatever roles it holds.
    r = srv.post("bravo-x", f"/v1/approvals/{aid}/approve", {"comment": "go"})
    assert _err(r) == (403, "forbidden") and "own deployment" in r.json()["error"]["message"]
    r = srv.post("bravo-x", f"/v1/approvals/{aid}/reject", {"reason": "no"})
    assert _err(r) == (403, "forbidden")
    detail = srv.get("a-cmd", f"/v1/approvals/{aid}").json()
    assert detail["state"] == "pending" and detail["votes"] == []
    r = srv.post("a-req", "/v1/decide", ENGAGE, **{"Redline-Approval-Id": aid})
    assert _err(r) == (409, "conflict")  # still pending: nothing granted
    assert "approval.approved" not in _kinds(srv)


def test_a_commander_of_the_same_deployment_may_decide(srv: Server) -> None:
    aid = srv.hold()
    r = srv.post("a-cmd", f"/v1/approvals/{aid}/approve")
    assert r.status_code == 200 and r.json()["state"] == "approved"
    d = srv.post("a-req", "/v1/decide", ENGAGE, **{"Redline-Approval-Id": aid}).json()
    payload = verify_action_token(
        d["action_token"], ENGAGE["tool_call"], srv.app.state.services.approvals.public_key
    )
    assert payload["approvers"] == ["a-cmd"] and payload["deployment"] == "alpha"


def test_a_requester_may_not_approve_its_own_request(srv: Server) -> None:
    aid = srv.hold(who="a-cmd")  # a commander asks for force itself
    r = srv.post("a-cmd", f"/v1/approvals/{aid}/approve")
    assert _err(r) == (403, "forbidden") and "own request" in r.json()["error"]["message"]
    assert srv.get("a-cmd2", f"/v1/approvals/{aid}").json()["state"] == "pending"


def test_no_token_before_the_resume_so_an_early_redeem_is_impossible(srv: Server) -> None:
    aid = srv.hold()
    srv.post("a-cmd", f"/v1/approvals/{aid}/approve")
    # Approved, but not resumed: the requester sees no token, and none exists to redeem.
    shown = srv.get("a-req", f"/v1/approvals/{aid}").json()
    assert shown["state"] == "approved" and "action_token" not in shown
    approvals = srv.app.state.services.approvals
    assert load_row(approvals.engine, aid).token is None
    assert "approval.resumed" not in _kinds(srv)
    # The resume re-decides, records `approval.resumed`, and only then issues the token.
    d = srv.post("a-req", "/v1/decide", ENGAGE, **{"Redline-Approval-Id": aid}).json()
    assert d["decision"] == "allow" and d["action_token"]
    assert "approval.resumed" in _kinds(srv)
    assert "action_token" not in srv.get("a-req", f"/v1/approvals/{aid}").json()


def _token(srv: Server) -> tuple[str, str]:
    aid = srv.hold()
    srv.post("a-cmd", f"/v1/approvals/{aid}/approve")
    d = srv.post("a-req", "/v1/decide", ENGAGE, **{"Redline-Approval-Id": aid}).json()
    return aid, str(d["action_token"])


def test_redeem_without_the_action_is_refused(srv: Server) -> None:
    aid, token = _token(srv)
    r = srv.post("a-req", f"/v1/approvals/{aid}/redeem", {"token": token})
    assert _err(r) == (400, "invalid_request") and "action" in r.json()["error"]["message"]
    assert not srv.get("a-req", f"/v1/approvals/{aid}").json()["redeemed"]


def test_redeem_of_an_altered_action_is_refused(srv: Server) -> None:
    aid, token = _token(srv)
    altered = {
        "name": "engage_target",
        "arguments": {"target_id": "T-18", "weapon": "guided-munition"},
    }
    r = srv.post("a-req", f"/v1/approvals/{aid}/redeem", {"token": token, "action": altered})
    assert r.status_code == 400 and "different action" in r.json()["error"]["message"]
    assert not srv.get("a-req", f"/v1/approvals/{aid}").json()["redeemed"]


def test_a_replayed_redeem_is_refused(srv: Server) -> None:
    aid, token = _token(srv)
    body = {"token": token, "action": ENGAGE["tool_call"]}
    assert srv.post("a-req", f"/v1/approvals/{aid}/redeem", body).json()["redeemed"] is True
    r = srv.post("a-req", f"/v1/approvals/{aid}/redeem", body)
    assert _err(r) == (409, "conflict") and "already used" in r.json()["error"]["message"]
    assert _kinds(srv).count("approval.redeemed") == 1
