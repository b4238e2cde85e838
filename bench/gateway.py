"""Chat gateway benchmark: Redline in front of a fast local fake upstream vs the fake direct.

    .venv/bin/python bench/gateway.py [--requests 300] [--concurrency 8] [--classifier rules]

Redline (`redline serve --config`) and the fake upstream each run in a process of their own.
Prints, side by side: latency p50/p99 through Redline and direct, the added p50 against
the target (the classifier's p50 for a request's two classifications + 5 ms), time to
first token when streaming, and requests per second. The classifier's p50 is given twice:
back to back in this process (warm caches), and as Redline timed it inside the requests
(its Server-Timing header).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.bench import Servers, ms_percentile, processes_up, requester_key
from tests.support.loopback import free_port

from redline.classify.load import load_classifier
from redline.decider import Decider
from redline.ledger.open import open_ledger
from redline.policy.pack import PackRegistry
from redline.subject import ChatMessage, DecideRequest, Subject
from redline.trust import TRUST_ALL

PROMPT = "Draft the convoy fuel plan for 3rd battalion, leaving at dawn."
ANSWER = (
    "The convoy needs 1,200 litres of diesel for the round trip. Refuel at the forward "
    "point before the river crossing. Carry two spare jerrycans per vehicle. Maintenance "
    "checks tyres and oil before departure, and the supply officer signs the fuel log. "
    "Radio checks every thirty minutes; return before dusk."
)


def timed(fn: Callable[[], object], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def stages(response: httpx.Response) -> dict[str, float]:
    """Redline's Server-Timing header as {stage: seconds}."""
    out = {}
    for part in response.headers.get("server-timing", "").split(","):
        name, _, dur = part.strip().partition(";dur=")
        if dur:
            out[name] = float(dur) / 1000
    return out


def ttft(client: httpx.Client, url: str, headers: dict[str, str], body: dict[str, object]) -> float:
    """Seconds from sending to the first chunk carrying content."""
    t = time.perf_counter()
    with client.stream("POST", url, json=body, headers=headers) as r:
        lines = r.iter_lines()
        for line in lines:
            if '"content":"' in line.replace(" ", "") and '"content":""' not in line.replace(
                " ", ""
            ):
                first = time.perf_counter() - t
                for _ in lines:
                    pass
                return first
    raise RuntimeError("no content arrived")


def throughput(fn: Callable[[], object], n: int, workers: int) -> float:
    t = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda _: fn(), range(n)))
    return n / (time.perf_counter() - t)


STARTUP_S = 60
FAKE = (
    "import sys, uvicorn\n"
    "from tests.support.fake_upstream import Answer, FakeUpstream, create_fake\n"
    "fake = FakeUpstream(default=Answer(text=sys.argv[2], chunk_chars=6, chunk_delay_s=0.002))\n"
    "uvicorn.run(create_fake(fake), host='127.0.0.1', port=int(sys.argv[1]), log_level='warning')\n"
)
CONFIG = """
db = "{db}"
classifier = "{classifier}"
port = {port}
rate_limit_per_minute = 0
[deployments.default]
packs = ["all-lawful-purposes"]
[upstreams.alpha]
base_url = "http://127.0.0.1:{upstream}/v1"
api_key_env = "FAKE_UPSTREAM_KEY"
models = ["alpha-1"]
"""


@contextmanager
def servers(tmp: Path, classifier: str) -> Iterator[Servers]:
    """The fake upstream and `redline serve --config`, each in a process of its own (so
    neither shares the client's interpreter lock); the backend is the fake upstream."""
    up_port, rl_port = free_port(), free_port()
    cfg = tmp / "redline.toml"
    cfg.write_text(CONFIG.format(db=tmp / "redline.db", classifier=classifier,
                                 port=rl_port, upstream=up_port))  # fmt: skip
    env = {**os.environ, "FAKE_UPSTREAM_KEY": "sk-fake", "REDLINE_KEYS_DIR": str(tmp / "keys"),
           "REDLINE_LOCAL_KEYS": str(tmp / "local-keys.json")}  # fmt: skip
    root = Path(__file__).resolve().parents[1]
    procs = [
        subprocess.Popen([sys.executable, "-c", FAKE, str(up_port), ANSWER], cwd=root, env=env),
        subprocess.Popen(
            [sys.executable, "-m", "redline.cli.main", "serve", "--config", str(cfg)],
            cwd=root,
            env=env,
            stderr=subprocess.DEVNULL,
        ),
    ]
    ready = [
        f"http://127.0.0.1:{rl_port}/healthz",
        f"http://127.0.0.1:{up_port}/v1/chat/completions",
    ]
    with processes_up(procs, ready, STARTUP_S):
        key = requester_key(tmp / "local-keys.json")
        yield Servers(f"http://127.0.0.1:{rl_port}", f"http://127.0.0.1:{up_port}/v1", key)


Target = tuple[str, dict[str, str]]  # (url, headers)


@dataclass
class Figures:
    """Seconds per call (lists), requests per second, and Redline's own stage timings."""

    lat_direct: list[float] = field(default_factory=list)
    lat_via: list[float] = field(default_factory=list)
    seen: list[dict[str, float]] = field(default_factory=list)  # Server-Timing per request
    cls: list[float] = field(default_factory=list)
    dec: list[float] = field(default_factory=list)
    t_direct: list[float] = field(default_factory=list)
    t_via: list[float] = field(default_factory=list)
    rps_direct: float = 0.0
    rps_via: float = 0.0


def measure_gateway(
    out: Figures, client: httpx.Client, via: Target, direct: Target, n: int, concurrency: int
) -> None:
    body: dict[str, object] = {"model": "alpha-1",
                               "messages": [{"role": "user", "content": PROMPT}]}  # fmt: skip

    def call(target: Target) -> Callable[[], object]:
        def go() -> object:
            r = client.post(target[0], json=body, headers=target[1])
            r.raise_for_status()
            return r

        return go

    for target in (via, direct):  # warm up connections and caches
        timed(call(target), 20)
    # Interleaved, one direct then one through Redline, so drifting noise on this shared
    # machine lands on both sides alike.
    for _ in range(n):
        out.lat_direct += timed(call(direct), 1)
        out.lat_via += timed(lambda: out.seen.append(stages(call(via)())), 1)  # type: ignore[arg-type]
    sbody = {**body, "stream": True}
    out.t_direct = [ttft(client, direct[0], direct[1], sbody) for _ in range(max(30, n // 10))]
    out.t_via = [ttft(client, via[0], via[1], sbody) for _ in range(max(30, n // 10))]
    out.rps_direct = throughput(call(direct), n, concurrency)
    out.rps_via = throughput(call(via), n, concurrency)


def measure_in_process(out: Figures, classifier_name: str, tmp: Path, n: int) -> None:
    classifier = load_classifier(classifier_name)
    conv = Subject(messages=(ChatMessage(role="user", content=PROMPT),))
    answer = Subject(text=ANSWER)
    out.cls = timed(lambda: (classifier.classify(conv), classifier.classify(answer)), n)
    packs = PackRegistry().select("all-lawful-purposes")
    decider = Decider(classifier, packs, open_ledger(str(tmp / "d.db")), TRUST_ALL)
    request = DecideRequest(messages=conv.messages)
    out.dec = timed(lambda: decider.decide(request), n)
    decider.store.close()


def report(f: Figures, n: int, classifier: str, concurrency: int) -> None:
    added = ms_percentile(f.lat_via, 50) - ms_percentile(f.lat_direct, 50)
    target = ms_percentile(f.cls, 50) + 5
    # The same two classifications as timed inside Redline, on the requests measured above.
    in_server = [st["classify-request"] + st["classify-answer"] for st in f.seen]
    target_in_server = ms_percentile(in_server, 50) + 5
    print(
        f"chat gateway benchmark: {n} requests, classifier {classifier}, "
        f"concurrency {concurrency} for throughput"
    )
    print(f"{'':28}{'direct':>10}{'redline':>10}{'added':>10}{'ratio':>8}")
    for name, a, b in (
        ("latency p50 (ms)", ms_percentile(f.lat_direct, 50), ms_percentile(f.lat_via, 50)),
        ("latency p99 (ms)", ms_percentile(f.lat_direct, 99), ms_percentile(f.lat_via, 99)),
        ("stream TTFT p50 (ms)", ms_percentile(f.t_direct, 50), ms_percentile(f.t_via, 50)),
        ("stream TTFT p99 (ms)", ms_percentile(f.t_direct, 99), ms_percentile(f.t_via, 99)),
    ):
        print(f"{name:28}{a:10.2f}{b:10.2f}{b - a:10.2f}{b / a:8.2f}")
    ratio = f.rps_via / f.rps_direct
    print(f"{'requests/s':28}{f.rps_direct:10.1f}{f.rps_via:10.1f}{'':10}{ratio:8.2f}")
    print(f"classifier p50 (conversation + answer): {ms_percentile(f.cls, 50):.2f} ms")
    print("one decision p50 (classify, evaluate, durable ledger append): "
          f"{ms_percentile(f.dec, 50):.2f} ms; a request makes two")  # fmt: skip
    names = sorted({k for st in f.seen for k in st}, key=lambda k: (k.split("-")[-1], k))
    print("inside Redline, p50 (Server-Timing): " + ", ".join(
        f"{k} {ms_percentile([st.get(k, 0.0) for st in f.seen], 50):.2f}"
        for k in names))  # fmt: skip
    print(
        "classifier p50 inside Redline (conversation + answer): "
        f"{ms_percentile(in_server, 50):.2f} ms"
    )
    for label, limit in (("back to back, in this process", target),
                         ("inside Redline, same requests", target_in_server)):  # fmt: skip
        verdict = "MET" if added <= limit else "MISSED"
        print(f"target: added p50 {added:.2f} ms <= classifier p50 ({label}) + 5 ms = "
              f"{limit:.2f} ms: {verdict}")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--classifier", default="rules")
    ap.add_argument("--db-dir", default=None, help="where the ledger lives (default: a temp dir)")
    args = ap.parse_args()
    figures = Figures()
    with tempfile.TemporaryDirectory(dir=args.db_dir) as tmp, \
            servers(Path(tmp), args.classifier) as running:  # fmt: skip
        via = (running.redline + "/v1/chat/completions",
               {"authorization": f"Bearer {running.key}"})  # fmt: skip
        direct = (running.backend + "/chat/completions", {"authorization": "Bearer x"})
        client = httpx.Client(timeout=30, limits=httpx.Limits(max_connections=64))
        measure_gateway(figures, client, via, direct, args.requests, args.concurrency)
        measure_in_process(figures, args.classifier, Path(tmp), args.requests)
    report(figures, args.requests, args.classifier, args.concurrency)


if __name__ == "__main__":
    main()
