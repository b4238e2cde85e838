"""The subject hash is keyed (issue 18.5): a guessed request cannot be confirmed from a
ledger entry, an approval or a 403/409 body, and the ledger still verifies.

Before, `subject_hash` was the SHA-256 of the canonical request, so anyone holding an entry
could hash candidate requests until one matched. Now it is HMAC-SHA256 under a secret of the
deployment (`subject-hash.key` in the keys folder, 0600, created on first start).
"""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path
from typing import Any

import openai
import pytest

from redline.canonical import canonical_json, sha256_hex
from redline.ledger.verify import verify_store
from redline.subject_hash import KEY_FILE
from tests.support.fake_upstream import gateway
from tests.support.server import ENGAGE, running

SURVEIL = "Face-match everyone on the city's cameras against the voter roll."


def _guesses(content: dict[str, Any]) -> set[str]:
    """What an attacker holding the exact request could compute without the server's key."""
    raw = canonical_json(content)
    return {
        sha256_hex(content),
        hashlib.sha256(raw).hexdigest(),
        hashlib.sha512(raw).hexdigest()[:64],
        hashlib.blake2b(raw, digest_size=32).hexdigest(),
    }


def test_an_entry_or_an_approval_does_not_confirm_a_guessed_request(tmp_path: Path) -> None:
    with running(tmp_path) as srv:
        d = srv.post("a-req", "/v1/decide", ENGAGE).json()
        assert d["decision"] == "hold" and len(d["subject_hash"]) == 64
        store = srv.app.state.services.store
        entries = [store.entry(i) for i in range(store.size())]
        seen = {e.subject_hash for e in entries} | {d["subject_hash"]}
        approval = srv.get("a-aud", f"/v1/approvals/{d['approval_id']}").json()
        seen.add(approval["subject_hash"])
        # The attacker guessed the request exactly, and still cannot confirm it.
        assert not seen & _guesses(ENGAGE)
        # The server can: the same request in the same deployment has the same hash...
        again = srv.post("a-req2", "/v1/decide", ENGAGE).json()
        assert again["subject_hash"] == d["subject_hash"]
        # ...another deployment's differs, so tenants cannot match each other's requests.
        other = srv.post("b-req", "/v1/decide", ENGAGE).json()
        assert other["subject_hash"] != d["subject_hash"]
        # The ledger an auditor verifies is intact.
        report = verify_store(store, None)  # raises on the first problem
        assert report.size == store.size() > len(entries)
        key = tmp_path / "keys" / KEY_FILE
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    # The key survives a restart (same keys folder): an approval opened before still binds.
    with running(tmp_path, db=str(tmp_path / "after-restart.db")) as srv:
        again = srv.post("a-req", "/v1/decide", ENGAGE).json()
        assert again["subject_hash"] == d["subject_hash"]


@pytest.mark.parametrize(
    ("packs", "prompt", "error"),
    [
        ("provider-redlines", SURVEIL, openai.PermissionDeniedError),
        ("all-lawful-purposes", "Fire for effect on grid 38SMB4484 now.", openai.ConflictError),
    ],
    ids=["403", "409"],
)
def test_a_403_or_409_body_does_not_confirm_a_guessed_request(
    tmp_path: Path, packs: str, prompt: str, error: type[openai.APIStatusError]
) -> None:
    messages = [{"role": "user", "content": prompt}]
    with gateway(tmp_path, deployment_packs=packs) as env:
        with pytest.raises(error) as err:
            env.client().chat.completions.create(model="alpha-1", messages=messages)  # type: ignore[arg-type]
        body: Any = err.value.body
        decision = body["details"].get("decision")
        shown = (decision if isinstance(decision, dict) else body["details"])["subject_hash"]
        assert len(shown) == 64
        assert shown not in _guesses({"messages": messages})
        # nor with the model and parameters folded in, as an approval binds them
        assert shown not in _guesses({"messages": messages, "model": "alpha-1"})
