"""The approval workflow against a real server over loopback, both directions."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from redline.approvals.token import verify_action_token
from tests.support.server import CYBER, ENGAGE, Server, running


def _err(r: object) -> str:
    return str(r.json()["error"]["code"])  # type: ignore[attr-defined]


def test_commander_approves_and_requester_resumes_with_token(srv: Server) -> None:
    aid = srv.hold()
    listed = srv.get("a-cmd", "/v1/approvals").json()
    assert [a["id"] for a in listed] == [aid]
    detail = srv.get("a-cmd", f"/v1/approvals/{aid}").json()
    assert detail["content"] == ENGAGE and detail["categories"]["use_of_force"] > 0.5
    assert detail["decided_by"][0]["rule"] == "PR-3.1-use-of-force" and detail[
        "roles_required"
    ] == ["commander"]
    r = srv.post("a-cmd", f"/v1/approvals/{aid}/approve", {"comment": "checked"})
    assert r.status_code == 200 and r.json()["state"] == "approved"
    r = srv.post("a-req", "/v1/decide", ENGAGE, **{"Redline-Approval-Id": aid})
    d = r.json()
    assert d["decision"] == "allow" and d["approval_id"] == aid and d["action_token"]
    pub = srv.get("a-req", "/v1/approvals/public-key").text
    payload = verify_action_token(d["action_token"], ENGAGE["tool_call"], pub)
    assert payload["approvers"] == ["a-cmd"] and payload["requester"] == "a-req"
    # the resume is single use
    r = srv.post("a-req", "/v1/decide", ENGAGE, **{"Redline-Approval-Id": aid})
    assert r.status_code == 409
    kinds = [
        srv.app.state.services.store.entry(i).kind
        for i in range(srv.app.state.services.store.size())
    ]
    assert {"approval.opened", "approval.approved", "approval.resumed"} <= set(kinds)


def test_approver_may_not_approve_use_of_force(srv: Server) -> None:
    aid = srv.hold()
    assert srv.get("a-apr", "/v1/approvals").json() == []
    r = srv.post("a-apr", f"/v1/approvals/{aid}/approve")
    assert r.status_code == 403 and _err(r) == "forbidden"


def test_requester_and_auditor_may_not_approve(srv: Server) -> None:
    aid = srv.hold()
    for who in ("a-req2", "a-aud", "root"):
        assert srv.post(who, f"/v1/approvals/{aid}/approve").status_code == 403, who


def test_self_approval_refused(srv: Server) -> None:
    aid = srv.hold(who="a-cmd")  # a commander asks for force and tries to approve it
    r = srv.post("a-cmd", f"/v1/approvals/{aid}/approve")
    assert r.status_code == 403 and "own request" in r.json()["error"]["message"]
    assert srv.post("a-cmd2", f"/v1/approvals/{aid}/approve").json()["state"] == "approved"


def test_two_person_rule(srv: Server) -> None:
    aid = srv.hold(body=CYBER)
    r = srv.post("a-apr", f"/v1/approvals/{aid}/approve")
    assert r.json()["state"] == "pending" and r.json()["approvals_so_far"] == 1
    r = srv.post("a-req", "/v1/decide", CYBER, **{"Redline-Approval-Id": aid})
    assert r.status_code == 409  # one approval is not enough
    r = srv.post("a-apr", f"/v1/approvals/{aid}/approve")  # the same person twice is not two
    assert (
        r.status_code == 409
        and srv.get("a-apr", f"/v1/approvals/{aid}").json()["state"] == "pending"
    )
    assert srv.post("a-apr2", f"/v1/approvals/{aid}/approve").json()["state"] == "approved"
    d = srv.post("a-req", "/v1/decide", CYBER, **{"Redline-Approval-Id": aid}).json()
    assert d["decision"] == "allow" and d["action_token"]


def test_rejection_needs_reason_and_is_final(srv: Server) -> None:
    aid = srv.hold()
    assert srv.post("a-cmd", f"/v1/approvals/{aid}/reject", {}).status_code == 400
    assert srv.post("a-cmd", f"/v1/approvals/{aid}/reject", {"reason": ""}).status_code == 400
    r = srv.post("a-cmd", f"/v1/approvals/{aid}/reject", {"reason": "wrong grid"})
    assert r.json()["state"] == "rejected" and r.json()["reject_reason"] == "wrong grid"
    r = srv.post("a-cmd2", f"/v1/approvals/{aid}/approve")
    assert r.status_code == 409 and "rejected" in r.json()["error"]["message"]
    assert (
        srv.post("a-req", "/v1/decide", ENGAGE, **{"Redline-Approval-Id": aid}).status_code == 409
    )


def test_expiry(tmp_path: Path) -> None:
    with running(tmp_path, approval_ttl_s=1) as srv:
        aid = srv.hold()
        time.sleep(1.2)
        r = srv.post("a-cmd", f"/v1/approvals/{aid}/approve")
        assert r.status_code == 409 and "expired" in r.json()["error"]["message"]
        assert srv.get("a-cmd", f"/v1/approvals/{aid}").json()["state"] == "expired"
        assert (
            srv.post("a-req", "/v1/decide", ENGAGE, **{"Redline-Approval-Id": aid}).status_code
            == 409
        )


def test_resume_with_altered_request_or_other_requester(srv: Server) -> None:
    aid = srv.hold()
    srv.post("a-cmd", f"/v1/approvals/{aid}/approve")
    altered = {
        "tool_call": {
            "name": "engage_target",
            "arguments": {"target_id": "T-18", "weapon": "guided-munition"},
        }
    }
    assert (
        srv.post("a-req", "/v1/decide", altered, **{"Redline-Approval-Id": aid}).status_code == 403
    )
    assert (
        srv.post("a-req2", "/v1/decide", ENGAGE, **{"Redline-Approval-Id": aid}).status_code == 403
    )
    assert (
        srv.post("b-req", "/v1/decide", ENGAGE, **{"Redline-Approval-Id": aid}).status_code == 404
    )
    assert (
        srv.post("a-req", "/v1/decide", ENGAGE, **{"Redline-Approval-Id": aid}).json()["decision"]
        == "allow"
    )


def test_redeem_is_single_use(srv: Server) -> None:
    aid = srv.hold()
    srv.post("a-cmd", f"/v1/approvals/{aid}/approve")
    token = srv.post("a-req", "/v1/decide", ENGAGE, **{"Redline-Approval-Id": aid}).json()[
        "action_token"
    ]
    bad = {"token": token, "action": {"name": "engage_target", "arguments": {"target_id": "X"}}}
    assert srv.post("a-req", f"/v1/approvals/{aid}/redeem", bad).status_code == 400
    good = {"token": token, "action": ENGAGE["tool_call"]}
    assert srv.post("b-req", f"/v1/approvals/{aid}/redeem", good).status_code == 404
    r = srv.post("a-req", f"/v1/approvals/{aid}/redeem", good)
    assert r.status_code == 200 and r.json()["redeemed"]
    r = srv.post("a-req", f"/v1/approvals/{aid}/redeem", good)
    assert r.status_code == 409  # replay


def _race(srv: Server, aid: str, who: list[str], actions: list[str]) -> list[int]:
    codes: list[int] = [0] * len(who)
    barrier = threading.Barrier(len(who))

    def go(i: int) -> None:
        barrier.wait()
        body = {"reason": "no"} if actions[i] == "reject" else {}
        codes[i] = srv.post(who[i], f"/v1/approvals/{aid}/{actions[i]}", body).status_code

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(who))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return codes


def test_concurrent_approve_and_reject_one_winner(srv: Server) -> None:
    aid = srv.hold()
    codes = _race(srv, aid, ["a-cmd", "a-cmd2"], ["approve", "reject"])
    assert sorted(codes) == [200, 409]
    state = srv.get("a-cmd", f"/v1/approvals/{aid}").json()
    assert state["state"] == ("approved" if codes[0] == 200 else "rejected")
    assert len(state["votes"]) == 1


def test_concurrent_two_person_approvals_complete(srv: Server) -> None:
    aid = srv.hold(body=CYBER)
    assert _race(srv, aid, ["a-apr", "a-apr2"], ["approve", "approve"]) == [200, 200]
    assert srv.get("a-apr", f"/v1/approvals/{aid}").json()["state"] == "approved"


def test_concurrency_on_postgres(tmp_path: Path, postgres_url: str) -> None:
    with running(tmp_path, db=postgres_url) as srv:
        for _ in range(3):
            aid = srv.hold()
            assert sorted(_race(srv, aid, ["a-cmd", "a-cmd2"], ["approve", "reject"])) == [200, 409]
            assert len(srv.get("a-cmd", f"/v1/approvals/{aid}").json()["votes"]) == 1
        aid = srv.hold(body=CYBER)
        assert _race(srv, aid, ["a-apr", "a-apr2"], ["approve", "approve"]) == [200, 200]
        assert srv.get("a-apr", f"/v1/approvals/{aid}").json()["state"] == "approved"


def test_stats_flags_rubber_stamps(srv: Server) -> None:
    aid = srv.hold()
    srv.post("a-cmd", f"/v1/approvals/{aid}/approve")
    aid2 = srv.hold()
    srv.post("a-cmd2", f"/v1/approvals/{aid2}/reject", {"reason": "no"})
    s = srv.get("a-aud", "/v1/approvals/stats").json()
    assert s["by_state"] == {"approved": 1, "rejected": 1}
    per = {a["approver"]: a for a in s["approvers"]}
    assert per["a-cmd"]["approval_rate"] == 1.0 and per["a-cmd2"]["approval_rate"] == 0.0
    assert [f["approver"] for f in s["rubber_stamp_flags"]] == ["a-cmd"]
    assert srv.get("a-req", "/v1/approvals/stats").status_code == 403
    assert srv.get("b-aud", "/v1/approvals/stats").json()["total"] == 0


def test_approval_committed_while_the_ledger_failed_is_recorded_on_resume(
    srv: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Regression: the approval committed, its ledger write failed, and it then granted
    # nothing, for ever. Now it grants nothing until the event is on the ledger, and the
    # next resume records it.
    aid = srv.hold()
    store = srv.app.state.services.approvals.store

    def full_disk(items: object) -> list[int]:
        raise OSError("disk full")

    monkeypatch.setattr(store, "append_many", full_disk)
    assert srv.post("a-cmd", f"/v1/approvals/{aid}/approve").status_code >= 500
    assert srv.get("a-cmd", f"/v1/approvals/{aid}").json()["state"] == "approved"
    # The ledger still fails: the resume is refused and nothing is released.
    r = srv.post("a-req", "/v1/decide", ENGAGE, **{"Redline-Approval-Id": aid})
    assert r.status_code >= 500 and "ledger" in r.json()["error"]["message"]
    monkeypatch.undo()
    before = srv.client.get(srv.base + "/healthz").json()["ledger_size"]
    r = srv.post("a-req", "/v1/decide", ENGAGE, **{"Redline-Approval-Id": aid})
    assert r.status_code == 200 and r.json()["decision"] == "allow", r.text
    assert verify_action_token(
        r.json()["action_token"], ENGAGE["tool_call"], srv.app.state.services.approvals.public_key
    )
    # The late "approved" event is on the ledger now, once, before the resumed decision.
    after = srv.client.get(srv.base + "/healthz").json()["ledger_size"]
    ledger = srv.app.state.services.store
    late = [e for i in range(before, after) if (e := ledger.entry(i)).kind == "approval.approved"]
    assert len(late) == 1 and late[0].detail["recorded_late"] is True
    assert late[0].principal == "a-cmd"
