"""GET /v1/ledger/...: checkpoints, entries and proofs over a live server, with access rules."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from redline.gateway.app import create_app
from redline.ledger import merkle
from redline.ledger.checkpoint import Checkpointer, open_checkpoint
from redline.ledger.entry import LedgerEntry
from redline.ledger.note import Signer
from redline.ledger.store import LedgerStore, Sealed
from redline.settings import DeploymentConfig, Settings
from tests.support.loopback import serve


def _b(s: str) -> bytes:
    return base64.b64decode(s)


@pytest.fixture(params=["sqlite", "postgres"])
def server(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[str, dict[str, str], Signer]]:
    db: str = request.getfixturevalue("db_path" if request.param == "sqlite" else "postgres_url")
    settings = Settings(db=db, classifier="rules", approval_keys_dir=tmp_path / "keys",
                        deployments={"d1": DeploymentConfig(), "d2": DeploymentConfig()},
                        default_deployment="d1")  # fmt: skip
    app = create_app(settings)
    services = app.state.services
    signer = Signer.generate("redline.test/api")
    services.checkpointer = Checkpointer(services.store, signer, 0)
    keys = {}
    for name, role, dep in [("root", "admin", "d1"), ("aud1", "auditor", "d1"),
                            ("aud2", "auditor", "d2"), ("req1", "requester", "d1")]:  # fmt: skip
        keys[name] = services.principals.add(name, [role], dep)[1]
    store: LedgerStore = services.store
    for i in range(6):
        e = LedgerEntry(time="2025-01-01T00:00:00Z", deployment=f"d{i % 2 + 1}", principal="x")
        store.append_many([Sealed(e)])
    with serve(app) as base:
        yield base, keys, signer


def _get(base: str, key: str, path: str) -> httpx.Response:
    return httpx.get(base + path, headers={"authorization": f"Bearer {key}"}, timeout=30)


def test_checkpoint_and_proofs_verify(server: tuple[str, dict[str, str], Signer]) -> None:
    base, keys, signer = server
    r = _get(base, keys["aud1"], "/v1/ledger/checkpoint?fresh=true")
    assert r.status_code == 200, r.text
    cp = open_checkpoint(r.json()["note"], signer.verifier())
    assert cp.size == 6 and r.json()["root"] == base64.b64encode(cp.root).decode()

    p = _get(base, keys["aud1"], "/v1/ledger/proofs/inclusion?index=4&size=6").json()
    entry = _get(base, keys["aud1"], "/v1/ledger/entries/4").json()
    assert entry["leaf_hash"] == p["leaf_hash"]
    merkle.verify_inclusion(_b(p["leaf_hash"]), 4, 6, [_b(h) for h in p["proof"]], cp.root)

    c = _get(base, keys["aud2"], "/v1/ledger/proofs/consistency?from=3&to=6").json()
    assert _b(c["second_root"]) == cp.root
    merkle.verify_consistency(3, 6, [_b(h) for h in c["proof"]], _b(c["first_root"]), cp.root)


def test_entries_are_seen_only_by_their_deployment_or_an_admin(
    server: tuple[str, dict[str, str], Signer],
) -> None:
    base, keys, _ = server
    assert _get(base, keys["aud1"], "/v1/ledger/entries/0").json()["entry"]["deployment"] == "d1"
    assert _get(base, keys["aud1"], "/v1/ledger/entries/1").status_code == 404
    assert _get(base, keys["aud2"], "/v1/ledger/entries/1").status_code == 200
    assert _get(base, keys["root"], "/v1/ledger/entries/1").status_code == 200
    assert _get(base, keys["req1"], "/v1/ledger/entries/0").status_code == 403
    assert httpx.get(base + "/v1/ledger/checkpoint").status_code == 401


BAD = [  # (path, status, error code) on a ledger of 6 entries
    ("/v1/ledger/entries/99", 404, "not_found"),
    ("/v1/ledger/proofs/inclusion?index=6&size=6", 400, "invalid_request"),
    ("/v1/ledger/proofs/inclusion?index=0&size=7", 400, "invalid_request"),
    ("/v1/ledger/proofs/consistency?from=5&to=3", 400, "invalid_request"),
    ("/v1/ledger/proofs/consistency?from=1&to=99", 400, "invalid_request"),
    ("/v1/ledger/proofs/inclusion?index=-1&size=2", 400, "invalid_request"),
]


def test_bad_requests_are_4xx(server: tuple[str, dict[str, str], Signer]) -> None:
    base, keys, _ = server
    for path, status, code in BAD:
        r = _get(base, keys["root"], path)
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), (path, r.text)
