"""Choose the classifier backend by name: "model" ("auto" is the same), or "rules".

The trained model ships with the package (its head and adapter in weights/), so it is
always expected: a missing or corrupt model is an error at start, never a silent fall
back to the rules. The keyword rules run only when asked for by name, and are then a
degraded mode that the banner, `redline check`, /healthz and every answer name.
"""

from __future__ import annotations

from redline.classify.rules import RuleClassifier
from redline.classify.types import Classifier
from redline.errors import ClassifierError

BACKENDS = ("model", "auto", "rules")
DEGRADED = "degraded: the keyword rules, asked for by name, not the trained model"


def load_classifier(name: str = "auto") -> Classifier:
    """The backend `name` names; ClassifierError if it is unknown or cannot load."""
    if name == "rules":
        return RuleClassifier()
    if name not in ("model", "auto"):
        raise ClassifierError(f"unknown classifier backend {name!r}; expected one of {BACKENDS}")
    try:
        from redline.classify.model import load_model_classifier

        return load_model_classifier()
    except (ClassifierError, ImportError) as exc:
        raise ClassifierError(
            f"the trained classifier cannot start: {exc}. Redline does not fall back to the "
            "keyword rules on its own; ask for them by name (--classifier rules) to run "
            "degraded."
        ) from exc


def is_degraded(classifier: Classifier) -> bool:
    return isinstance(classifier, RuleClassifier)


def describe(classifier: Classifier) -> str:
    """The classifier in use, as the banner, `redline check` and /healthz name it."""
    if is_degraded(classifier):
        return f"{classifier.version} ({DEGRADED})"
    return classifier.version
