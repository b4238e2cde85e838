"""The Decider with aggregates: a failed count denies (fail closed), the ledger entry names
the window and the count, and only allowed requests add their subjects."""

from __future__ import annotations

from pathlib import Path

from redline.aggregate.counter import Counter
from redline.aggregate.store import AggregateStore
from redline.classify.rules import RuleClassifier
from redline.decider import Decider
from redline.ledger.sqlite import SqliteStore
from redline.policy.pack import PackRegistry
from redline.subject import Context, DecideRequest, PrincipalRef, ToolCall
from redline.trust import TRUST_ALL


def lookup(name: str, who: str = "agent") -> DecideRequest:
    context = Context(principal=PrincipalRef(id=who), authority_ref="warrant 7")
    return DecideRequest(
        tool_call=ToolCall(name="lookup_person", arguments={"name": name}), context=context
    )


def decider(tmp: Path, packs: str = "provider-redlines") -> Decider:
    counter = Counter(AggregateStore(str(tmp / "r.db")), tmp / "keys")
    ledger = SqliteStore(tmp / "r.db")
    return Decider(
        RuleClassifier(), PackRegistry().select(packs), ledger, TRUST_ALL, aggregates=counter
    )


def test_a_failed_count_denies_and_says_so(tmp_path: Path) -> None:
    d = decider(tmp_path)
    assert d.aggregates is not None
    d.aggregates.store.close()  # the state store is gone
    decision = d.decide(lookup("Maria Keller"))
    assert decision.decision == "deny"
    assert decision.failure == "aggregate"
    assert decision.decided_by[0].rule == "fail-closed.aggregate"
    assert decision.ledger_index is not None  # the deny is on the ledger like any other


def test_the_ledger_names_window_and_count_and_counts_per_principal(tmp_path: Path) -> None:
    d = decider(tmp_path)
    names = [f"Person Number{i:02d}" for i in range(26)]
    decisions = d.decide_batch([lookup(n) for n in names])
    assert [x.decision for x in decisions] == ["allow"] * 25 + ["deny"]
    assert d.decide(lookup(names[0])).decision == "allow"  # known: no new subject
    assert d.decide(lookup(names[25], who="colleague")).decision == "allow"  # own window
    assert isinstance(d.store, SqliteStore)
    entry = d.store.entry(decisions[25].ledger_index or 0)
    assert entry.detail["aggregate"] == [
        {"rule": "PR-2.1.1-aggregate-mass-surveillance", "window": "24h",
         "scope": "principal", "count": 26}
    ]  # fmt: skip
    assert d.aggregates is not None
    shown = {s.scope: s.counts for s in d.aggregates.store.show("default")}
    assert shown == {"agent": {"1h": 25, "24h": 25}, "colleague": {"1h": 1, "24h": 1},
                     "": {"1h": 26, "24h": 26}}  # fmt: skip
