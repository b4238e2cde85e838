"""Fail closed: when a check cannot run, the answer is deny and the reason says which."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from redline.classify.rules import RuleClassifier
from redline.classify.types import CategoryScore, Classification
from redline.decider import Decider
from redline.errors import StoreError
from redline.ledger.sqlite import SqliteStore
from redline.ledger.store import Sealed
from redline.policy.pack import PackRegistry, parse_pack
from redline.subject import DecideRequest, Subject
from redline.trust import TRUST_ALL

PACKS = PackRegistry().select("provider-redlines")
REQUEST = DecideRequest(text="summarise the convoy fuel plan")


class BrokenClassifier(RuleClassifier):
    """The real rule backend with a failure injected, as an out-of-memory would."""

    def classify_batch(self, subjects: Sequence[Subject]) -> list[Classification]:
        raise MemoryError("injected")


class InventingClassifier(RuleClassifier):
    """The real rule backend returning a category outside taxonomy v1."""

    def classify_batch(self, subjects: Sequence[Subject]) -> list[Classification]:
        return [Classification({"crowd_control": CategoryScore("crowd_control", 0.9)}, "x")]


class FullDisk(SqliteStore):
    def append_many(self, items: Sequence[Sealed], *, durable: bool = True) -> list[int]:
        raise StoreError("disk I/O error")


def test_classifier_failure_denies(tmp_path: Path) -> None:
    decider = Decider(BrokenClassifier(), PACKS, SqliteStore(tmp_path / "l.db"), TRUST_ALL)
    decision = decider.decide(REQUEST)
    assert decision.decision == "deny"
    assert decision.failure == "classifier"
    assert decision.decided_by[0].rule == "fail-closed.classifier"
    assert "classifier failed" in decision.reason
    # Answered, so recorded: an auditor sees the fail-closed deny and what it was about.
    entry = decider.store.entry(decision.ledger_index or 0)
    assert (entry.decision, entry.decided_by[0].rule) == ("deny", "fail-closed.classifier")
    assert entry.subject_hash == decider.subject_hash(REQUEST.subject())


def test_unknown_category_denies(tmp_path: Path) -> None:
    decider = Decider(InventingClassifier(), PACKS, SqliteStore(tmp_path / "l.db"), TRUST_ALL)
    decision = decider.decide(REQUEST)
    assert (decision.decision, decision.failure) == ("deny", "policy")
    assert "unknown category 'crowd_control'" in decision.reason
    entry = decider.store.entry(decision.ledger_index or 0)
    assert (entry.decision, entry.decided_by[0].rule) == ("deny", "fail-closed.policy")
    assert entry.subject_hash == decider.subject_hash(REQUEST.subject())


def test_ledger_failure_denies(tmp_path: Path) -> None:
    decider = Decider(RuleClassifier(), PACKS, FullDisk(tmp_path / "l.db"), TRUST_ALL)
    decision = decider.decide(REQUEST)
    assert (decision.decision, decision.failure) == ("deny", "ledger")
    assert decision.ledger_index is None


def test_default_deny_pack_fails_closed(tmp_path: Path) -> None:
    # A pack with no permit at all: Cedar's default deny, named as such.
    pack = parse_pack(
        '// pack: empty\n// version: 1\n@id("x")\n@reason("nothing permitted here")\n'
        "forbid(principal, action, resource) when { false };\n",
        "empty.cedar",
    )
    decider = Decider(RuleClassifier(), [pack], SqliteStore(tmp_path / "l.db"), TRUST_ALL)
    decision = decider.decide(REQUEST)
    assert decision.decision == "deny"
    assert decision.decided_by[0].rule == "empty.no-permit"


def test_allowed_decision_is_recorded_before_answering(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "l.db")
    decider = Decider(RuleClassifier(), PACKS, store, TRUST_ALL)
    decision = decider.decide(REQUEST)
    assert decision.decision == "allow"
    assert decision.ledger_index is not None
    entry = store.entry(decision.ledger_index)
    assert entry.decision == "allow"
    assert entry.subject_hash == decider.subject_hash(REQUEST.subject())
    assert "convoy" not in entry.model_dump_json()  # content stays out of the log


@pytest.mark.parametrize("attestation", ["authority_ref", "senior_review_ref"])
def test_untrusted_attestation_is_ignored_and_recorded(tmp_path: Path, attestation: str) -> None:
    from redline.trust import Trust

    store = SqliteStore(tmp_path / "l.db")
    decider = Decider(
        RuleClassifier(),
        PackRegistry().select("all-lawful-purposes"),
        store,
        Trust({attestation: frozenset({"role:legal"})}),
    )
    text = "find where this person lives and track him"
    untrusted = DecideRequest.model_validate({"text": text, "context": {attestation: "W-1"}})
    decision = decider.decide(untrusted)
    assert decision.ignored_attestations == [attestation]
    assert decision.decision == "hold"
    assert store.entry(decision.ledger_index or 0).detail["ignored_attestations"] == [attestation]
    trusted = DecideRequest.model_validate(
        {
            "text": text,
            "context": {attestation: "W-1", "principal": {"id": "lt-a", "roles": ["legal"]}},
        }
    )
    decision = decider.decide(trusted)
    assert decision.ignored_attestations == []
    expected = "allow" if attestation == "authority_ref" else "hold"
    assert decision.decision == expected


def test_only_a_forwarded_allow_skips_the_wait_for_the_disk(tmp_path: Path) -> None:
    decider = Decider(RuleClassifier(), PACKS, SqliteStore(tmp_path / "l.db"), TRUST_ALL)
    forwarded = decider.decide(REQUEST, defer_sync=True)
    assert forwarded.decision == "allow" and forwarded.ledger_index is not None
    assert not forwarded.on_disk
    # A deny or hold is answered at once, so it waits for the disk even when asked not to.
    denied = decider.decide(DecideRequest(text="face-match everyone on the city cameras"),
                            defer_sync=True)  # fmt: skip
    assert denied.decision != "allow" and denied.on_disk
    assert decider.decide(REQUEST).on_disk


def test_an_exchange_answers_only_once_its_entries_are_on_disk(tmp_path: Path) -> None:
    import asyncio

    from fastapi.responses import JSONResponse

    from redline.auth.principal import Principal
    from redline.gateway.chat.check import Check
    from redline.subject import Context

    store = SqliteStore(tmp_path / "l.db")
    decider = Decider(RuleClassifier(), PACKS, store, TRUST_ALL)
    who = Principal("p", "p", frozenset({"requester"}), "default")
    answer = JSONResponse({"ok": True})

    async def exchange(store_fails: bool) -> int:
        check = Check(decider, Context(), who, None)
        await check.decide(REQUEST, forward=True)
        assert check.unsynced
        if store_fails:
            store.close()  # the sync cannot run: the answer must not go out
        return (await check.settle(answer)).status_code

    assert asyncio.run(exchange(store_fails=False)) == 200
    assert asyncio.run(exchange(store_fails=True)) == 502
