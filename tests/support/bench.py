"""Helpers the benchmarks share with the tests: a real server on a loopback port."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from redline.gateway.app import create_app
from redline.settings import DeploymentConfig, Settings
from tests.support.loopback import serve


@dataclass(frozen=True)
class Servers:
    """What a benchmark's servers() yields: Redline's base URL, the server behind it (a fake
    upstream or a tool server) and a requester's API key."""

    redline: str
    backend: str
    key: str


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0 to 100) of values by nearest rank, in the values' own unit."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


def ms_percentile(seconds: Sequence[float], q: float) -> float:
    """The q-th percentile of durations in seconds, in milliseconds."""
    return 1e3 * percentile(seconds, q)


def wait_for(url: str, deadline_s: float) -> None:
    """Poll `url` until it answers at all, or raise RuntimeError after `deadline_s`."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up within {deadline_s:.0f} s")


@contextmanager
def processes_up(
    procs: Sequence[subprocess.Popen[bytes]], ready: Sequence[str], deadline_s: float
) -> Iterator[None]:
    """Wait until every URL in `ready` answers; terminate `procs` on the way out, whatever
    happened."""
    try:
        for url in ready:
            wait_for(url, deadline_s)
        yield
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=20)


def requester_key(local_keys: Path) -> str:
    """The demo requester's key that `redline serve` wrote to REDLINE_LOCAL_KEYS."""
    return str(json.loads(local_keys.read_text())["demo-requester"])


@contextmanager
def bench_server(
    tmp: Path, packs: str, classifier: str = "rules"
) -> Iterator[tuple[str, dict[str, str]]]:
    """A server with `packs` on its default deployment; yields (base URL, auth headers)."""
    settings = Settings(
        db=str(tmp / "bench.db"),
        classifier=classifier,
        approval_keys_dir=tmp / "keys",
        rate_limit_per_minute=10_000_000,
        rate_limit_burst=1_000_000,
        deployments={"default": DeploymentConfig(packs=packs.split(","))},
    )
    app = create_app(settings)
    _, key = app.state.services.principals.add("bench", ["requester"], "default")
    with serve(app) as url:
        yield url, {"Authorization": f"Bearer {key}"}
