"""Embedder benchmark: single-request latency and short-text throughput.

    .venv/bin/python bench/embed_check.py [--model-dir var/model] [--rounds 200]

Prints p50/p99 latency for one ~15-token request on 1 thread, throughput for batches of 32
short texts on 2 cores (2 intra-op threads, or 2 concurrent 1-thread runs), one 600-token
text (3 windows), and, for reference only, the padded batch-32 ONNX call that embed() does
not use because int8 dynamic quantisation makes its results depend on the batch.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.bench import ms_percentile

from redline.classify.embed import Embedder, default_model_dir, load_embedder

SHORT = [
    "Summarise this quarterly earnings report in three bullet points.",
    "Plot a fire mission on grid 38SMB4488, two rounds HE, adjust fire.",
    "Track every protester's phone across the city for the next week.",
    "Write a polite email declining the meeting invitation on Friday.",
    "Rank the enemy radar sites for tomorrow's targeting board meeting.",
    "What is the fastest way to learn conversational Spanish as an adult?",
    "Refactor this function so it streams the file instead of reading it.",
    "Give me a recipe for banana bread without eggs or any dairy in it.",
]


def timed(
    fn: Callable[[], object], rounds: int, clock: Callable[[], float] = time.perf_counter
) -> list[float]:
    fn()
    out = []
    for _ in range(rounds):
        t = clock()
        fn()
        out.append(clock() - t)
    return out


def padded_batch(e: Embedder, texts: list[str]) -> Callable[[], object]:
    ids = [e._tokenizer.encode(t).ids for t in texts]
    width = max(map(len, ids))
    arr = np.zeros((len(ids), width), dtype=np.int64)
    mask = np.zeros_like(arr)
    for i, row in enumerate(ids):
        arr[i, : len(row)] = row
        mask[i, : len(row)] = 1
    feed = {"input_ids": arr, "attention_mask": mask, "token_type_ids": np.zeros_like(arr)}
    return lambda: e._session.run(None, feed)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model-dir", type=Path, default=default_model_dir())
    ap.add_argument("--rounds", type=int, default=200)
    args = ap.parse_args()

    one = load_embedder(args.model_dir, threads=1)
    intra2 = load_embedder(args.model_dir, threads=2)
    conc2 = load_embedder(args.model_dir, threads=1, workers=2)
    text = SHORT[0]
    print(f"model {one.model_version[:16]}  short text = {one.token_count(text) + 2} tokens")

    lat = timed(lambda: one.embed([text]), args.rounds)
    cpu = timed(lambda: one.embed([text]), args.rounds, clock=time.process_time)
    print(
        f"latency 1 thread    p50 {ms_percentile(lat, 50):6.2f} ms   "
        f"p99 {ms_percentile(lat, 99):6.2f} ms   "
        f"(CPU time p50 {ms_percentile(cpu, 50):.2f} ms: contention-free estimate)"
    )

    batch = (SHORT * 4)[:32]
    n = max(args.rounds // 20, 5)
    for name, e in [("2 intra-op threads", intra2), ("2 workers x 1 thread", conc2)]:
        ts = timed(lambda e=e: e.embed(batch), n)  # type: ignore[misc]
        print(f"batch 32, {name:22s} {32 / statistics.median(ts):6.0f} texts/s")
    ts = timed(padded_batch(intra2, batch), n)
    print(
        f"batch 32, padded ONNX call, 2 threads {32 / statistics.median(ts):6.0f} texts/s"
        "  (reference: batch-dependent, not used)"
    )

    long = " ".join(SHORT * 8)
    windows = len(one.embed_windows([long])[0])
    for name, e in [("1 thread", one), ("2 workers", conc2)]:
        ts = timed(lambda e=e: e.embed([long]), n)  # type: ignore[misc]
        print(
            f"{one.token_count(long)} tokens ({windows} windows), {name:9s} "
            f"p50 {ms_percentile(ts, 50):6.1f} ms"
        )
    for e in (one, intra2, conc2):
        e.close()


if __name__ == "__main__":
    main()
