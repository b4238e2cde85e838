"""Aggregate rules benchmark: the cost per request of subject extraction plus counting.

    .venv/bin/python bench/aggregate.py [--requests 2000] [--db URL]

Runs the Decider's evaluation stage (everything after classification and before the
ledger: bulk rule, extraction, keyed hashes, the window count and its update in the state
store, Cedar on the counts, the packs) on the same requests with aggregates on and off,
and prints p50/p99 of each and the difference of the p50s. Three kinds of request: a
logistics tool call (not counted), a lookup of a new person each time (counted, one row
written per scope), and a lookup of the same person again (counted, nothing new).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.bench import percentile

from redline.aggregate.counter import Counter
from redline.aggregate.store import AggregateStore
from redline.classify.rules import RuleClassifier
from redline.decider import Decider
from redline.ledger.sqlite import SqliteStore
from redline.policy.pack import PackRegistry
from redline.subject import Context, DecideRequest, PrincipalRef, ToolCall
from redline.trust import Trust

PACKS = "provider-redlines,all-lawful-purposes,eu-ai-act-art5"


def request(i: int, name: str, arguments: dict[str, object]) -> DecideRequest:
    # A new principal every 20 requests keeps each under the limit: every lookup is decided
    # in full, as for an agent well inside its window.
    context = Context(principal=PrincipalRef(id=f"agent-{i // 20}"), authority_ref="warrant 7")
    return DecideRequest(tool_call=ToolCall(name=name, arguments=arguments), context=context)


KINDS: dict[str, Callable[[int], DecideRequest]] = {
    "logistics call": lambda i: request(i, "schedule_convoy", {"route": f"MSR {i}", "trucks": 12}),
    "new person": lambda i: request(i, "lookup_person", {"name": f"Maria Keller {i:05d}x"}),
    "same person": lambda i: request(i, "lookup_person", {"name": "Maria Keller"}),
}


def timed(decider: Decider, requests: list[DecideRequest]) -> list[float]:
    trust = Trust({"authority_ref": frozenset({f"agent-{i}" for i in range(10_000)})})
    decider.trust = trust
    classifier = RuleClassifier()
    out = []
    for r in requests:
        subject = r.subject()
        classification = classifier.classify(subject)
        start = time.perf_counter()
        decider._evaluate(r, subject, classification, frozenset(), None)
        out.append((time.perf_counter() - start) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--db", default=None, help="state store URL (default: a SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or str(Path(tmp) / "bench.db")
        packs = PackRegistry().select(PACKS)
        ledger = SqliteStore(Path(tmp) / "ledger.db")
        counter = Counter(AggregateStore(db), Path(tmp) / "keys")
        plain = Decider(RuleClassifier(), packs, ledger, Trust())
        counted = Decider(RuleClassifier(), packs, ledger, Trust(), aggregates=counter)
        print(f"{args.requests} requests each; packs {PACKS}; state store {db.split('?')[0]}")
        head = ("request", "without p50", "with p50", "with p99", "added p50")
        print("{:16} {:>12} {:>10} {:>10} {:>10}".format(*head))
        for kind, make in KINDS.items():
            requests = [make(i) for i in range(args.requests)]
            timed(plain, requests[:50])  # warm the memo and the code paths
            without = timed(plain, requests)
            with_agg = timed(counted, requests)
            base, agg = statistics.median(without), statistics.median(with_agg)
            p99 = percentile(with_agg, 99)
            print(f"{kind:16} {base:9.3f} ms {agg:7.3f} ms {p99:7.3f} ms {agg - base:7.3f} ms")
        ledger.close()


if __name__ == "__main__":
    main()
