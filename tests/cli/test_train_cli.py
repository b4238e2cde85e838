"""`redline train --folds`: which folds are held out is checked before anything trains."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from redline.cli.main import app

runner = CliRunner()


@pytest.mark.parametrize("folds", ["0", "1,5", "", "one", "0,1"])
def test_folds_outside_the_training_side_are_refused(folds: str) -> None:
    # Fold 0 is the test split: training on it would void every held-out figure.
    result = runner.invoke(app, ["train", "--folds", folds])
    assert result.exit_code == 2
    assert "expected folds among 1,2,3,4" in result.output
