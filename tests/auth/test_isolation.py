"""Every endpoint probed across deployments: another deployment's data does not exist."""

from __future__ import annotations

import pytest

from tests.support.server import ENGAGE, Server


@pytest.fixture
def srv(shared_srv: Server) -> Server:
    """The module's tests share one server: none depends on another's state."""
    return shared_srv


def test_every_approval_endpoint_across_deployments(srv: Server) -> None:
    aid = srv.hold("a-req")
    token_holder = srv.hold("a-req2")
    srv.post("a-cmd", f"/v1/approvals/{token_holder}/approve")
    token = srv.post(
        "a-req2", "/v1/decide", ENGAGE, **{"Redline-Approval-Id": token_holder}
    ).json()["action_token"]
    for who in ("b-req", "b-apr", "b-cmd", "b-aud"):
        assert aid not in [a["id"] for a in srv.get(who, "/v1/approvals?state=all").json()]
        assert srv.get(who, f"/v1/approvals/{aid}").status_code == 404
        assert srv.post(who, f"/v1/approvals/{aid}/approve").status_code == 404
        assert srv.post(who, f"/v1/approvals/{aid}/reject", {"reason": "x"}).status_code == 404
        assert (
            srv.post(
                who,
                f"/v1/approvals/{token_holder}/redeem",
                {"token": token, "action": ENGAGE["tool_call"]},
            ).status_code
            == 404
        )
        assert (
            srv.post(who, "/v1/decide", ENGAGE, **{"Redline-Approval-Id": aid}).status_code == 404
        )
        stats = srv.get(who, "/v1/approvals/stats").json() if who != "b-req" else None
        assert stats is None or (stats["deployment"] == "beta" and stats["total"] == 0)
    # the answers for a foreign id and a nonexistent id are the same
    assert srv.get("b-cmd", f"/v1/approvals/{aid}").json() == srv.get(
        "b-cmd", "/v1/approvals/ap_nope"
    ).json() | {"error": srv.get("b-cmd", f"/v1/approvals/{aid}").json()["error"]}
    assert srv.get("a-cmd", f"/v1/approvals/{aid}").status_code == 200
    assert srv.get("a-aud", f"/v1/approvals/{aid}").status_code == 200  # auditor: own deployment
    assert srv.get("root", f"/v1/approvals/{aid}").status_code == 200  # admin sees all
    assert aid in [a["id"] for a in srv.get("root", "/v1/approvals").json()]
    assert srv.get("root", "/v1/approvals/stats").json()["total"] >= 2


def test_policies_are_the_callers_deployments(srv: Server) -> None:
    active = srv.get("b-req", "/v1/policies").json()["active"]
    assert active == ["provider-redlines"]


def test_decisions_land_in_the_keys_deployment(srv: Server) -> None:
    d = srv.post("b-req", "/v1/decide", {"text": "hi", "context": {"deployment": "alpha"}}).json()
    assert srv.app.state.services.store.entry(d["ledger_index"]).deployment == "beta"


def test_every_route_needs_a_key(srv: Server) -> None:
    open_paths = {"/healthz", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc",
                  "/v1/approvals/public-key"}  # fmt: skip
    for route in srv.app.routes:
        path = getattr(route, "path", "")
        if path in open_paths or not path:
            continue
        for method in getattr(route, "methods", set()) - {"HEAD", "OPTIONS"}:
            url = srv.base + path.replace("{approval_id}", "ap_x").replace("{index}", "0")
            for k in [p for p in path.split("/") if p.startswith("{")]:
                url = url.replace(k, "x")
            r = srv.client.request(method, url, json={})
            assert r.status_code == 401, (method, path, r.status_code)
