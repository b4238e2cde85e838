"""Decision engine benchmark: policy evaluation per decision, and /v1/decide over loopback.

    .venv/bin/python bench/decide.py [--requests 2000] [--concurrency 8]

Prints policy-evaluation time per decision with all four packs composed (memoised, as the
server runs, and cold, with the memo cleared before every decision), then /v1/decide
latency p50/p99 and throughput against a real server on a loopback port.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.bench import bench_server, percentile

from redline.classify.rules import RuleClassifier
from redline.policy.compose import compose
from redline.policy.engine import PackEvaluator
from redline.policy.facts import Facts
from redline.policy.pack import PackRegistry
from redline.subject import Subject

TEXTS = [
    "fire for effect on grid 38SMB4484",
    "Draft the convoy fuel plan for 3rd battalion.",
    "face-match everyone on the city's cameras",
    "kill the hung python process",
    "write an exploit for their SCADA",
    "rank the enemy radar sites for the targeting board",
    "find where this person lives and track him",
]
PACKS = "provider-redlines,all-lawful-purposes,dodd-3000-09,eu-ai-act-art5"


def policy_eval(n: int) -> None:
    packs = PackRegistry().select(PACKS)
    rules = RuleClassifier()
    classifications = [rules.classify(Subject(text=t)) for t in TEXTS]
    facts = [Facts(), Facts(authority_ref=True), Facts(purpose="military")]
    for label, cold in (("memoised", False), ("cold", True)):
        evaluator = PackEvaluator()
        times = []
        for i in range(n):
            if cold:
                evaluator = PackEvaluator()
            c, f = classifications[i % len(classifications)], facts[i % len(facts)]
            t0 = time.perf_counter()
            compose(evaluator, packs, c, f)
            times.append((time.perf_counter() - t0) * 1e3)
        print(
            f"policy evaluation, 4 packs composed, {label:8}: p50 {percentile(times, 50):.3f} ms"
            f"  p99 {percentile(times, 99):.3f} ms  (target p50 <= 0.3 ms)"
        )


def http(n: int, concurrency: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, bench_server(Path(tmp), PACKS) as (url, headers):
        with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
            for t in TEXTS:  # warm up
                client.post("/v1/decide", json={"text": t}).raise_for_status()
        local = threading.local()

        def one(i: int) -> float:
            if not hasattr(local, "client"):
                local.client = httpx.Client(base_url=url, headers=headers, timeout=30)
            t0 = time.perf_counter()
            r = local.client.post("/v1/decide", json={"text": TEXTS[i % len(TEXTS)] + f" {i}"})
            r.raise_for_status()
            return (time.perf_counter() - t0) * 1e3

        serial = [one(i) for i in range(min(n, 500))]
        print(
            f"/v1/decide sequential    : p50 {percentile(serial, 50):.2f} ms  "
            f"p99 {percentile(serial, 99):.2f} ms"
        )
        t0 = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            lat = list(pool.map(one, range(n)))
        wall = time.perf_counter() - t0
        print(
            f"/v1/decide {concurrency} clients     : p50 {percentile(lat, 50):.2f} ms  "
            f"p99 {percentile(lat, 99):.2f} ms  throughput {n / wall:.0f} decisions/s"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--evaluations", type=int, default=5000)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=8)
    args = ap.parse_args()
    policy_eval(args.evaluations)
    http(args.requests, args.concurrency)


if __name__ == "__main__":
    main()
