"""Signed notes and checkpoints: the Go reference vector byte for byte, and rejection cases."""

from __future__ import annotations

import base64

import pytest

from redline.errors import InputError, VerificationError
from redline.ledger.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from redline.ledger.note import Signer, Verifier, open_note, sign

# golang.org/x/mod/sumdb/note's test key and note
VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"  # noqa: E501
SIG = "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
SIGNED = f"{TEXT}\n\u2014 PeterNeumann {SIG}\n"


def test_go_reference_vector() -> None:
    signer = Signer.parse(SKEY)
    assert signer.verifier().text() == VKEY
    assert signer.text() == SKEY
    assert sign(TEXT, signer) == SIGNED
    assert open_note(SIGNED, Verifier.parse(VKEY)) == TEXT


def test_tampered_note_fails() -> None:
    verifier = Verifier.parse(VKEY)
    with pytest.raises(VerificationError, match="does not verify"):
        open_note(SIGNED.replace("cryptography", "cryptographY"), verifier)
    other = Signer.generate("PeterNeumann")
    with pytest.raises(VerificationError, match="no signature by key PeterNeumann"):
        open_note(sign(TEXT, other), verifier)
    with pytest.raises(VerificationError, match="malformed"):
        open_note(TEXT, verifier)


@pytest.mark.parametrize(
    "bad", [VKEY[:-2], VKEY.replace("c74f20a3", "c74f20a4"), "Peter Neumann+c74f20a3+AA==", "x"]
)
def test_bad_verifier_keys(bad: str) -> None:
    with pytest.raises(InputError):
        Verifier.parse(bad)


def test_checkpoint_round_trip() -> None:
    signer = Signer.generate("redline.test/log")
    cp = Checkpoint("redline.test/log", 20852163, bytes(range(32)))
    note = sign_checkpoint(cp, signer)
    body = note.split("\n\n")[0] + "\n"
    assert body == f"redline.test/log\n20852163\n{base64.b64encode(bytes(range(32))).decode()}\n"
    assert note.split("\n")[4].startswith("\u2014 redline.test/log ")
    raw = base64.b64decode(note.split("\n")[4].split(" ")[2])
    assert len(raw) == 68 and int.from_bytes(raw[:4], "big") == signer.key_id
    assert open_checkpoint(note, signer.verifier()) == cp
    with pytest.raises(VerificationError):
        open_checkpoint(note.replace("20852163", "20852164"), signer.verifier())


@pytest.mark.parametrize(
    "body", ["o\n01\nAAAA\n", "o\n1\n", "o\n-1\n" + "A" * 43 + "=\n", "o\n1\nAAAA\n"]
)
def test_malformed_checkpoints(body: str) -> None:
    with pytest.raises(VerificationError):
        Checkpoint.parse(body)


def test_signer_repr_hides_the_key() -> None:
    signer = Signer.parse(SKEY)
    assert "AYEK" not in repr(signer) and "AYEK" not in str(signer)
