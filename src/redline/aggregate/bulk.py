"""Bulk lookups asked in words: "list everyone who visited the clinic".

The tool rule (classify/tools.py, tool.bulk_lookup) covers tool calls; this exact rule
covers a request's own text and user turns, for every classifier backend: a verb that
asks for people, then a population within a few words. Decided as mass surveillance.
"""

from __future__ import annotations

import re
from dataclasses import replace

from redline.classify.segments import segments
from redline.classify.tools import POPULATION
from redline.classify.types import CategoryScore, Classification, Evidence
from redline.subject import Subject

RULE = "rule:text.bulk_lookup"
SCORE = 0.97
_ASK = re.compile(
    r"\b(list|find|identify|show|give|get|pull|export|compile|collect|name|track|locate|trace|"
    r"monitor|map|enumerate|search|who are|which (people|persons))\b",
    re.I,
)


def _hit(text: str) -> str | None:
    for ask in _ASK.finditer(text):
        tail = text[ask.end() : ask.end() + 60]
        if m := POPULATION.search(tail):
            return f"{ask.group(0)} … {m.group(0)}"
    return None


def with_bulk_rule(subject: Subject, classification: Classification) -> Classification:
    """`classification` with mass_surveillance raised to the rule's score where it fires."""
    for seg in segments(subject):
        if seg.where != "text" and not seg.where.endswith("(user)"):
            continue
        detail = _hit(seg.text)
        if detail is None:
            continue
        current = classification.scores.get("mass_surveillance")
        if current is not None and current.score >= SCORE:
            return classification
        evidence = (Evidence(RULE, seg.where, detail), *(current.evidence if current else ()))
        scores = dict(classification.scores)
        scores["mass_surveillance"] = CategoryScore("mass_surveillance", SCORE, evidence)
        return replace(classification, scores=scores)
    return classification
