"""Helpers the benchmarks share with the tests: a real server on a loopback port."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from redline.gateway.app import create_app
from redline.settings import DeploymentConfig, Settings
from tests.support.loopback import serve


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
