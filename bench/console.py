"""Console sign-in benchmark: does a wrong key take as long at the console as at the API?

    .venv/bin/python bench/console.py [--rounds 300]

One server over loopback. Prints, side by side in one run, the p50 and p90 of a refused
key's answer at `GET /v1/approvals` (Bearer) and at `POST /console/login` (the form), for a
malformed key, an unknown key id and a known key id with a wrong secret; and a good key's
sign-in for comparison. The refusals should match each other across the three kinds: the
timing says nothing about which key ids exist.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.server import running


def timed(
    fn: Callable[[], httpx.Response],
    rounds: int,
    status: int,
    after: Callable[[httpx.Response], None] | None = None,
) -> list[float]:
    """Milliseconds of each `fn()`; `after` (not timed) sees each answer."""
    out = []
    for _ in range(rounds):
        t = time.perf_counter()
        r = fn()
        out.append((time.perf_counter() - t) * 1000)
        assert r.status_code == status, r.status_code
        if after is not None:
            after(r)
    return out


class Form:
    """The sign-in form: each answer carries the next CSRF nonce (and sets its cookie)."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.csrf = self._nonce(client.get("/console/login"))

    @staticmethod
    def _nonce(r: httpx.Response) -> str:
        found = re.search(r'name="csrf" value="([^"]*)"', r.text)
        return found.group(1) if found else ""

    def post(self, key: str) -> httpx.Response:
        return self.client.post("/console/login", data={"key": key, "csrf": self.csrf})

    def next_nonce(self, r: httpx.Response) -> None:
        self.csrf = self._nonce(r) or self._nonce(self.client.get("/console/login"))


def report(name: str, where: str, xs: list[float]) -> None:
    q = statistics.quantiles(xs, n=10)
    print(f"{name:<14}{where:<10}{statistics.median(xs):>9.2f}{q[8]:>9.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, running(Path(tmp)) as srv:
        client = httpx.Client(base_url=srv.base)
        form = Form(client)
        good = srv.keys["a-cmd"]
        keys = {
            "malformed": "not-a-key",
            "unknown id": "rl_0123456789abcdef_" + "A" * 43,
            "wrong secret": good[:20] + "B" * 43,
        }
        print(f"{'key':<14}{'where':<10}{'p50 ms':>9}{'p90 ms':>9}")
        for name, key in keys.items():
            bearer = {"authorization": f"Bearer {key}"}
            api = timed(partial(client.get, "/v1/approvals", headers=bearer), args.rounds, 401)
            console = timed(partial(form.post, key), args.rounds, 401, form.next_nonce)
            report(name, "API", api)
            report(name, "console", console)
        report(
            "good key", "console", timed(lambda: form.post(good), args.rounds, 303, form.next_nonce)
        )


if __name__ == "__main__":
    main()
