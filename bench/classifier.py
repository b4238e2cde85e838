"""Rule-only backend vs the trained model, in one run: quality on the test split, on the
outside dev sets (../shared/eval-dev/*.csv) and on the READMEs of the installed packages
(tests/support/outside.py), measured only, under provider-redlines, decided
by the doubt rule and by the band rule it replaced; latency (1 thread, and as the server
runs it) and batched throughput.

    .venv/bin/python bench/classifier.py [--quick] [--dev DIR] [--no-dev] [--baseline REV]

--baseline REV adds the classifier that git revision REV shipped (bench/baseline.py), so a
retrain prints before and after side by side.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

# bench/ is on sys.path when this script runs.
from baseline import baseline_classifier
from quality import (
    DEV_DIR,
    HEADER,
    on_csv,
    on_readmes,
    on_test,
    p50_ms,
    percentiles,
    readme_paragraphs,
    table,
)
from redline.classify.embed import load_embedder
from redline.classify.head import load_head
from redline.classify.model import ModelClassifier, default_threads, default_workers
from redline.classify.rules import RuleClassifier
from redline.classify.types import Classifier
from redline.policy.pack import PackRegistry
from redline.subject import Subject
from redline.training.corpus import load_corpus
from redline.training.evaluate import Decisions

PACK = "provider-redlines"
SHORT = Subject(text="fire for effect on grid 38SMB4484, two rounds HE")
LONG = Subject(
    text=" ".join(
        ["The logistics cell asks for a quarterly summary of fuel, rations and spare parts"] * 25
    )
    + " and then rank the enemy radar sites for the targeting board."
)
CONVERSATION = Subject.model_validate(
    {
        "messages": [
            {"role": "system", "content": "You are an analyst assistant."},
            *[
                {"role": "user" if i % 2 else "assistant",
                 "content": f"Turn {i}: notes on the supply route and the weather on day {i}."}
                for i in range(1, 9)
            ],
            {"role": "user", "content": "Now list every phone near the square and who owns it."},
        ]
    }
)  # fmt: skip


@dataclass(frozen=True)
class Reader:
    name: str
    scored: Classifier  # what the quality figures come from
    timed: Classifier  # what the p50 column times (the served configuration)


def quality(readers: list[Reader], dev: list[Path], n: int) -> None:
    """Every reader on the test split and each dev set, both decision rules side by side."""
    test = load_corpus(splits=("test",))
    decisions = Decisions(PackRegistry().select(PACK))
    readmes = readme_paragraphs()
    print(f"pack {PACK}; outside sets: {', '.join(str(p) for p in dev) or 'none'}, "
          "and the READMEs of the installed packages (tests/support/outside.py)")  # fmt: skip
    print(HEADER)
    for r in readers:
        rows = [on_test(r.scored, test, decisions)]
        rows += [on_csv(r.scored, path, decisions) for path in dev]
        rows += [on_readmes(r.scored, readmes, decisions, answers) for answers in (False, True)]
        for line in table(r.name, rows, p50_ms(r.timed, decisions, SHORT, n)):
            print(line, flush=True)


def main(quick: bool = False, dev: list[Path] | None = None, baseline: str | None = None) -> None:
    dev = dev or []
    head = load_head()
    one = ModelClassifier(load_embedder(threads=1, workers=1), head)
    two = ModelClassifier(load_embedder(threads=1, workers=2), head)
    threads, workers = default_threads(), default_workers()
    served = ModelClassifier(load_embedder(threads=threads, workers=workers), head)
    rules = RuleClassifier()
    n = 30 if quick else 200
    readers = [Reader("rules (" + rules.version + ")", rules, rules)]
    if baseline:
        old = baseline_classifier(baseline)
        readers.append(Reader(f"{baseline} ({old.version[:19]})", old, old))
    readers.append(Reader("MiniLM-L6 + adapter (" + two.version[:19] + ")", two, served))
    quality(readers, dev, n)
    tokens = one.embedder.token_count(LONG.text or "")  # type: ignore[attr-defined]
    print(f"\nlatency (ms): model on 1 thread, served on {threads} (the server's default)")
    print(f"{'':35}{'p50':>7} {'p99':>7}")
    for name, subject in (("short request", SHORT), (f"{tokens}-token request", LONG),
                          ("10-turn conversation", CONVERSATION)):  # fmt: skip
        p50, p99 = percentiles(partial(one.classify, subject), n)
        p50r, p99r = percentiles(partial(rules.classify, subject), n)
        p50s, p99s = percentiles(partial(served.classify, subject), n)
        print(f"  model  {name:<25} {p50:>7.2f} {p99:>7.2f}")
        print(f"  served {name:<25} {p50s:>7.2f} {p99s:>7.2f}  {p50 / p50s:.2f}x faster")
        print(f"  rules  {name:<25} {p50r:>7.2f} {p99r:>7.2f}")
    batch = [
        Subject(text=f"request {i}: fire for effect on grid 38SMB44{i:02d}") for i in range(64)
    ]
    two.classify_batch(batch)
    rounds = 3 if quick else 10
    t = time.perf_counter()
    for _ in range(rounds):
        two.classify_batch(batch)
    rate = rounds * len(batch) / (time.perf_counter() - t)
    print(f"\nbatched throughput, 2 threads: {rate:.0f} short requests/s (batches of 64)")
    served.classify_batch(batch)
    t = time.perf_counter()
    for _ in range(rounds):
        served.classify_batch(batch)
    rate_s = rounds * len(batch) / (time.perf_counter() - t)
    print(f"batched throughput as served ({threads} threads a window, {workers} worker(s)): "
          f"{rate_s:.0f} short requests/s")  # fmt: skip


def dev_sets(argv: list[str]) -> list[Path]:
    if "--no-dev" in argv:
        return []
    where = Path(argv[argv.index("--dev") + 1]) if "--dev" in argv else DEV_DIR
    return sorted(where.glob("*.csv"))


if __name__ == "__main__":
    base = sys.argv[sys.argv.index("--baseline") + 1] if "--baseline" in sys.argv else None
    main(quick="--quick" in sys.argv, dev=dev_sets(sys.argv), baseline=base)
