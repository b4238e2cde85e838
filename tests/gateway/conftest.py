"""The gateway's fixtures: Redline in front of a fake upstream model, both over loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.fake_upstream import GatewayEnv, gateway


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayEnv]:
    """One gateway per module, with the fake upstream's default models."""
    with gateway(tmp_path_factory.mktemp("gw")) as e:
        yield e
