"""The shipped classifier, loaded once per module for the tests that need the built model.

Without the model these tests are skipped, except under CI, where a missing model fails."""

from __future__ import annotations

import os

import pytest

from redline.classify.model import ModelClassifier, load_model_classifier
from redline.errors import ClassifierError


@pytest.fixture(scope="module")
def model() -> ModelClassifier:
    try:
        return load_model_classifier()
    except ClassifierError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"the model is not built: {exc}")
