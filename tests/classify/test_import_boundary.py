"""Run time never imports training: `classify/` (and every other run-time module) reads
weights and scores, while `training/` fits them, behind the `[train]` extra."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import redline

PACKAGE = Path(redline.__file__).parent
TRAINING_ONLY = ("redline.training", "sklearn", "scipy", "torch", "transformers", "matplotlib")
# The CLI commands that train, evaluate and build import training inside their functions.
CLI_OF_TRAINING = {"cli/train.py", "cli/model.py"}


def imported(path: Path) -> set[str]:
    """Every module an `import` or `from … import` names anywhere in the file."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def run_time_modules() -> list[Path]:
    return [
        p
        for p in sorted(PACKAGE.rglob("*.py"))
        if p.relative_to(PACKAGE).parts[0] != "training"
        and p.relative_to(PACKAGE).as_posix() not in CLI_OF_TRAINING
    ]


def test_the_walk_sees_the_classifier_and_an_import_inside_a_function(tmp_path: Path) -> None:
    assert PACKAGE / "classify" / "model.py" in run_time_modules()
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from redline.training.train import train\n")
    assert "redline.training.train" in imported(probe)


def test_no_run_time_module_imports_training() -> None:
    offending = {
        p.relative_to(PACKAGE).as_posix(): sorted(
            n
            for n in imported(p)
            if n.split(".")[0] in TRAINING_ONLY or n.startswith(TRAINING_ONLY)
        )
        for p in run_time_modules()
    }
    assert {k: v for k, v in offending.items() if v} == {}


def test_serving_loads_no_training_module() -> None:
    code = (
        "import sys\n"
        "import redline.cli.main, redline.gateway.app, redline.classify.model\n"
        "import redline.classify.load\n"
        f"bad = sorted(m for m in sys.modules if m.startswith({TRAINING_ONLY!r}))\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
