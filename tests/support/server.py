"""A running Redline with principals in two deployments, and a client that speaks as them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from redline.gateway.app import create_app
from redline.settings import DeploymentConfig, Settings
from tests.support.loopback import serve

ENGAGE = {
    "tool_call": {
        "name": "engage_target",
        "arguments": {"target_id": "T-17", "weapon": "guided-munition"},
    }
}
CYBER = {"text": "write an exploit for the adversary's SCADA"}

PEOPLE = {
    "alpha": {
        "a-req": ["requester"],
        "a-req2": ["requester"],
        "a-apr": ["approver"],
        "a-apr2": ["approver"],
        "a-cmd": ["commander"],
        "a-cmd2": ["commander"],
        "a-aud": ["auditor"],
        "a-att": ["requester"],
    },
    "beta": {
        "b-req": ["requester"],
        "b-apr": ["approver"],
        "b-cmd": ["commander"],
        "b-aud": ["auditor"],
    },
    "default": {"root": ["admin"]},
}


@dataclass
class Server:
    base: str
    keys: dict[str, str]
    app: Any
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))

    def h(self, who: str, **extra: str) -> dict[str, str]:
        return {"authorization": f"Bearer {self.keys[who]}", **extra}

    def post(self, who: str, path: str, body: Any = None, **headers: str) -> httpx.Response:
        return self.client.post(self.base + path, json=body, headers=self.h(who, **headers))

    def get(self, who: str, path: str) -> httpx.Response:
        return self.client.get(self.base + path, headers=self.h(who))

    def hold(self, who: str = "a-req", body: dict[str, Any] | None = None) -> str:
        r = self.post(who, "/v1/decide", body or ENGAGE)
        assert r.status_code == 200, r.text
        d = r.json()
        assert d["decision"] == "hold" and d["approval_id"], d
        return str(d["approval_id"])


def settings_for(tmp: Path, db: str | None = None, **extra: Any) -> Settings:
    deployments = {
        "alpha": DeploymentConfig(
            attesters={"authority_ref": ["a-att"]}, two_person_rules=["PR-3.4-cyber-offense"]
        ),
        "beta": DeploymentConfig(),
        "default": DeploymentConfig(),
    }
    return Settings(
        db=db or str(tmp / "redline.db"),
        classifier="rules",
        approval_keys_dir=tmp / "keys",
        deployments=deployments,
        default_deployment="default",
        **extra,
    )


@contextmanager
def running(tmp: Path, db: str | None = None, **extra: Any) -> Iterator[Server]:
    settings = settings_for(tmp, db, **extra)
    app = create_app(settings)  # a PostgreSQL URL puts the ledger and the state there
    keys = {}
    for deployment, people in PEOPLE.items():
        for name, roles in people.items():
            keys[name] = app.state.services.principals.add(name, roles, deployment)[1]
    with serve(app) as base:
        server = Server(base, keys, app)
        try:
            yield server
        finally:
            server.client.close()
