"""Ledger benchmark: batched appends per second on SQLite, proof generation and verification
time, and full verification time, at --entries entries (default 1,000,000).

    .venv/bin/python bench/ledger.py [--entries N] [--db PATH]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import threading
import time
from pathlib import Path

from redline.ledger import merkle
from redline.ledger.entry import DecidedByRef, LedgerEntry, commit
from redline.ledger.sqlite import SqliteStore
from redline.ledger.store import Sealed
from redline.ledger.verify import verify_store


def decision(i: int) -> Sealed:
    content = {"text": f"summarise convoy fuel plan {i}"}
    salt, commitment = commit(content)
    entry = LedgerEntry(
        time="2025-06-01T12:00:00.000000Z", deployment="default", principal=f"user-{i % 97}",
        policies={"provider-redlines": "ab" * 32}, classifier="rules-1",
        commitment=commitment, subject_hash=f"{i:064x}",
        categories={"operations_support": 0.91, "general": 0.12}, decision="allow",
        decided_by=[DecidedByRef(policy="provider-redlines", rule="allow-default", effect="allow")],
    )  # fmt: skip
    return Sealed(entry, content, salt)


def bench_appends(path: Path, total: int, callers: int, batch: int = 1) -> float:
    """Concurrent appends of `batch` decisions each (1: as the gateway makes them, one per
    request); the writer groups whatever is queued into one transaction."""
    store = SqliteStore(path)
    items = [decision(i) for i in range(total)]
    per = total // callers

    def caller(k: int) -> None:
        mine = items[k * per : (k + 1) * per]
        for j in range(0, len(mine), batch):
            store.append_many(mine[j : j + batch])

    threads = [threading.Thread(target=caller, args=(k,)) for k in range(callers)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    store.close()
    return per * callers / elapsed


def build(path: Path, n: int) -> SqliteStore:
    """The bulk-load path: large batches through the same writer, one transaction each."""
    store = SqliteStore(path)
    template = decision(0)
    chunk = 50_000
    for start in range(store.size(), n, chunk):
        batch = [
            Sealed(template.entry.model_copy(update={"subject_hash": f"{i:064x}"}),
                   template.content, template.salt)
            for i in range(start, min(n, start + chunk))
        ]  # fmt: skip
        store.append_many(batch)
    return store


def timed(fn: object, runs: int) -> float:
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--appends", type=int, default=20_000, help="entries for the append test")
    ap.add_argument("--callers", type=int, default=32, help="concurrent appending threads")
    ap.add_argument("--db", type=Path, default=None, help="reuse/keep this ledger file")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rate = bench_appends(Path(tmp) / "single.db", args.appends, args.callers)
        print(f"appends (SQLite, synchronous=FULL, {args.callers} concurrent callers of one "
              f"entry each, group commit): {rate:,.0f}/s")  # fmt: skip
        rate = bench_appends(Path(tmp) / "batched.db", args.appends * 2, 4, 100)
        print(f"appends (SQLite, synchronous=FULL, batched: 4 callers of 100 entries): "
              f"{rate:,.0f}/s   target >= 5,000/s")  # fmt: skip

        path = args.db or Path(tmp) / "big.db"
        t0 = time.perf_counter()
        store = build(path, args.entries)
        n = store.size()
        print(f"built a {n:,}-entry ledger in {time.perf_counter() - t0:.1f} s (bulk batches)")

        rng = random.Random(7)
        root = store.root(n)
        idx = [rng.randrange(n) for _ in range(200)]
        leaves = {i: store.leaf_hash(i) for i in idx}
        proofs = {i: store.inclusion_proof(i, n) for i in idx}
        it = iter(idx * 10)
        gen = timed(lambda: store.inclusion_proof(next(it), n), 200)
        it = iter(idx * 10)

        def check() -> None:
            i = next(it)
            merkle.verify_inclusion(leaves[i], i, n, proofs[i], root)

        ver = timed(check, 200)
        old = n // 3 + 1
        cproof = store.consistency_proof(old, n)
        old_root = store.root(old)
        cgen = timed(lambda: store.consistency_proof(old, n), 200)
        cver = timed(lambda: merkle.verify_consistency(old, n, cproof, old_root, root), 200)
        print(f"inclusion proof at {n:,}: generate {gen:.3f} ms, verify {ver:.3f} ms "
              f"(median)   target <= 1 ms each")  # fmt: skip
        print(f"consistency proof {old:,}->{n:,}: generate {cgen:.3f} ms, "
              f"verify {cver:.3f} ms (median)")  # fmt: skip

        t0 = time.perf_counter()
        report = verify_store(store, None)
        elapsed = time.perf_counter() - t0
        assert report.root == root
        print(f"full verification of {n:,} entries: {elapsed:.1f} s   target <= 30 s")
        store.close()


if __name__ == "__main__":
    main()
