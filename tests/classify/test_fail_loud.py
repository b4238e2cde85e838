"""Fail loud, not open: the trained classifier is expected, so a missing or corrupt model
stops the start with an error; the keyword rules run only when asked for by name, and are
named as a degraded mode in the banner, `redline check` and /healthz."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from redline.classify.embed import META_FILE, MODEL_FILE, TOKENIZER_FILE, default_model_dir
from redline.classify.load import is_degraded, load_classifier
from redline.classify.rules import RuleClassifier
from redline.cli.main import app
from redline.errors import ClassifierError
from redline.gateway.app import create_app
from redline.settings import Settings
from tests.support.loopback import serve


@pytest.fixture
def built_model() -> Path:
    directory = default_model_dir()
    if not (directory / MODEL_FILE).is_file():
        if os.environ.get("CI"):
            raise AssertionError(f"the model is not built in {directory}")
        pytest.skip(f"the model is not built in {directory}")
    return directory


def corrupt_copy(source: Path, target: Path) -> Path:
    """The built model with one byte of the ONNX file flipped, halfway in."""
    target.mkdir()
    for name in (META_FILE, TOKENIZER_FILE):
        shutil.copyfile(source / name, target / name)
    data = bytearray((source / MODEL_FILE).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (target / MODEL_FILE).write_bytes(bytes(data))
    return target


@pytest.mark.parametrize("name", ["auto", "model"])
def test_missing_model_is_an_error_not_the_rules(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDLINE_MODEL_DIR", str(tmp_path / "nothing-here"))
    with pytest.raises(ClassifierError, match="does not fall back") as exc:
        load_classifier(name)
    assert "redline model build" in str(exc.value)


def test_missing_model_stops_the_server_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDLINE_MODEL_DIR", str(tmp_path / "nothing-here"))
    settings = Settings(db=str(tmp_path / "r.db"), approval_keys_dir=tmp_path / "keys")
    assert settings.classifier == "auto"
    with pytest.raises(ClassifierError, match="cannot start"):
        create_app(settings)


def test_corrupt_model_stops_the_start(
    built_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDLINE_MODEL_DIR", str(corrupt_copy(built_model, tmp_path / "m")))
    with pytest.raises(ClassifierError, match="sha256") as exc:
        load_classifier("auto")
    assert "cannot start" in str(exc.value)
    result = CliRunner().invoke(app, ["check", "hello there", "--db", str(tmp_path / "l.db")])
    assert result.exit_code == 2
    assert "cannot start" in result.output


def test_unknown_backend_is_an_error() -> None:
    with pytest.raises(ClassifierError, match="unknown classifier backend 'rule'"):
        load_classifier("rule")


def test_rules_only_by_name_and_named_degraded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDLINE_MODEL_DIR", str(tmp_path / "nothing-here"))
    rules = load_classifier("rules")
    assert isinstance(rules, RuleClassifier) and is_degraded(rules)
    result = CliRunner().invoke(
        app, ["check", "hello there", "--classifier", "rules", "--db", str(tmp_path / "l.db")]
    )
    assert result.exit_code == 0, result.output
    assert "classifier: rules-v1 (degraded: the keyword rules, asked for by name" in result.output
    application = create_app(
        Settings(db=str(tmp_path / "r.db"), classifier="rules", approval_keys_dir=tmp_path / "k")
    )
    with serve(application) as url:
        body = httpx.get(url + "/healthz", timeout=10).json()
    assert body["classifier"] == "rules-v1" and body["classifier_degraded"] is True


def test_the_model_is_named_not_degraded(built_model: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["check", "hello there", "--db", str(tmp_path / "l.db")])
    assert result.exit_code == 0, result.output
    assert "classifier: model:" in result.output and "degraded" not in result.output
