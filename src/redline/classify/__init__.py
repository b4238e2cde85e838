"""classify: what is this request, output or tool call for?"""

from redline.classify.types import (
    CategoryScore,
    Classification,
    Classifier,
    Evidence,
    Thresholds,
)

__all__ = ["CategoryScore", "Classification", "Classifier", "Evidence", "Thresholds"]
