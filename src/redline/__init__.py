"""Redline: machine-enforced, explainable and provable usage policy for language models."""

__version__ = "0.1.0"
