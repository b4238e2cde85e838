"""Choose the classifier backend by name: "rules", "model", or "auto"."""

from __future__ import annotations

from redline.classify.rules import RuleClassifier
from redline.classify.types import Classifier
from redline.errors import ClassifierError


def load_classifier(name: str = "auto") -> Classifier:
    """`auto` takes the trained model when it is built and falls back to the rules
    (and says so in the decision's `classifier` field); `model` insists on the model."""
    if name == "rules":
        return RuleClassifier()
    if name in ("model", "auto"):
        try:
            from redline.classify.model import load_model_classifier
        except ImportError as exc:
            if name == "model":
                raise ClassifierError(f"the trained classifier is not available: {exc}") from exc
            return RuleClassifier()
        try:
            return load_model_classifier()
        except ClassifierError:
            if name == "model":
                raise
            return RuleClassifier()
    raise ClassifierError(f"unknown classifier backend {name!r}; expected rules, model or auto")
