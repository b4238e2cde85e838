"""Action tokens: the effector's check fails for any change, expiry, another key, reuse."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from redline.approvals.token import (
    SpentTokens,
    action_hash,
    load_or_create_signing_key,
    public_pem,
    sign_action_token,
    verify_action_token,
)
from redline.errors import VerificationError

ACTION = {"name": "engage_target", "arguments": {"target_id": "T-17", "weapon": "guided-munition"}}
KEY = Ed25519PrivateKey.generate()


def _token(action: dict[str, object] = ACTION, key: Ed25519PrivateKey = KEY, ttl: int = 600) -> str:
    return sign_action_token(
        {
            "approval_id": "ap_1",
            "action_hash": action_hash(action),
            "requester": "a-req",
            "deployment": "alpha",
            "approvers": ["a-cmd"],
            "not_after": int(time.time()) + ttl,
        },
        key,
    )


def test_valid_token() -> None:
    payload = verify_action_token(_token(), ACTION, KEY.public_key())
    assert payload["approvers"] == ["a-cmd"]
    # the same action in subject form and key as PEM also verify
    verify_action_token(_token(), {"tool_call": ACTION}, public_pem(KEY.public_key()))


@pytest.mark.parametrize(
    "altered",
    [
        {"name": "engage_target", "arguments": {"target_id": "T-18", "weapon": "guided-munition"}},
        {"name": "engage_target", "arguments": {"target_id": "T-17"}},
        {"name": "engage_targets", "arguments": ACTION["arguments"]},
        {"name": "engage_target", "arguments": {**ACTION["arguments"], "salvo": 2}},  # type: ignore[dict-item]
    ],
)
def test_token_for_altered_arguments(altered: dict[str, object]) -> None:
    with pytest.raises(VerificationError, match="different action"):
        verify_action_token(_token(), altered, KEY.public_key())


def test_token_signed_by_another_key() -> None:
    with pytest.raises(VerificationError, match="signature"):
        verify_action_token(_token(key=Ed25519PrivateKey.generate()), ACTION, KEY.public_key())


def test_expired_token() -> None:
    with pytest.raises(VerificationError, match="expired"):
        verify_action_token(_token(ttl=-1), ACTION, KEY.public_key())


def test_tampered_payload() -> None:
    body, sig = _token().split(".")
    import base64

    raw = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    raw["approvers"] = ["someone-else"]
    forged = base64.urlsafe_b64encode(
        json.dumps(raw, sort_keys=True, separators=(",", ":")).encode()
    )
    with pytest.raises(VerificationError):
        verify_action_token(forged.decode().rstrip("=") + "." + sig, ACTION, KEY.public_key())


@pytest.mark.parametrize("bad", ["", ".", "a.b", "x" * 9000, "e30.AAAA", "a.b.c", "\u00e9.\u00e9"])
def test_malformed_tokens(bad: str) -> None:
    with pytest.raises(VerificationError):
        verify_action_token(bad, ACTION, KEY.public_key())


def test_replay_refused_by_spent_list(tmp_path: Path) -> None:
    spent = SpentTokens(tmp_path / "spent.txt")
    verify_action_token(_token(), ACTION, KEY.public_key(), spent=spent)
    with pytest.raises(VerificationError, match="already used"):
        verify_action_token(_token(), ACTION, KEY.public_key(), spent=spent)
    with pytest.raises(VerificationError, match="already used"):  # survives a restart
        verify_action_token(
            _token(), ACTION, KEY.public_key(), spent=SpentTokens(tmp_path / "spent.txt")
        )


def test_signing_key_file_is_private(tmp_path: Path) -> None:
    key = load_or_create_signing_key(tmp_path / "keys")
    path = tmp_path / "keys" / "approval-signing.pem"
    assert path.stat().st_mode & 0o777 == 0o600
    assert public_pem(load_or_create_signing_key(tmp_path / "keys").public_key()) == public_pem(
        key.public_key()
    )


def test_token_verify_cli(tmp_path: Path) -> None:
    (tmp_path / "pub.pem").write_bytes(public_pem(KEY.public_key()))
    (tmp_path / "action.json").write_text(json.dumps(ACTION))
    (tmp_path / "other.json").write_text(json.dumps({**ACTION, "arguments": {"target_id": "T-99"}}))
    cmd = [
        sys.executable,
        "-m",
        "redline.cli.main",
        "token",
        "verify",
        _token(),
        "--key",
        str(tmp_path / "pub.pem"),
    ]
    ok = subprocess.run(
        [*cmd, "--action", str(tmp_path / "action.json")], capture_output=True, text=True
    )
    assert ok.returncode == 0 and json.loads(ok.stdout)["approval_id"] == "ap_1"
    bad = subprocess.run(
        [*cmd, "--action", str(tmp_path / "other.json")], capture_output=True, text=True
    )
    assert bad.returncode == 1 and "different action" in bad.stderr
