"""`redline aggregates show`: counts and hashes for an auditor; refused to a requester."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from redline.cli.main import app
from tests.support.aggregates import PEOPLE, Agent, aggregate_gateway, lookups


def test_aggregates_show(tmp_path: Path) -> None:
    with aggregate_gateway(tmp_path) as env:
        Agent(env).run(lookups(PEOPLE[:4]))
        args = ["aggregates", "show", "--deployment", "default", "--url", env.url]
        shown = CliRunner().invoke(app, [*args, "--key", env.keys["auditor"], "--hashes"])
        assert shown.exit_code == 0, shown.output
        assert re.search(r"deployment\s.*\s4\s.*\s4", shown.output)
        assert re.search(r"principal\s.*agent\s.*\s4\s.*\s4", shown.output)
        assert len(re.findall(r"\b[0-9a-f]{64}\b", shown.output)) == 8  # 4 per scope
        assert not any(name in shown.output for name in PEOPLE[:4])
        refused = CliRunner().invoke(app, [*args, "--key", env.keys["agent"]])
        assert refused.exit_code == 1
        assert "403" in refused.output
