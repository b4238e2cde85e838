"""Which requests count, and the subjects each one adds.

A request counts when it is decided in a surveillance category (its score reaches the
lowest threshold, less the uncertainty band, of the packs in force) or when it is a tool
call whose effect is a lookup of a person: a lookup verb in its name and either a people
noun in its name or a person's identifier in its arguments.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from redline.aggregate.extract import (
    Identifier,
    Record,
    records_of_arguments,
    records_of_text,
    subjects_of,
)
from redline.classify.segments import parse_arguments
from redline.classify.tools import PEOPLE_NOUN
from redline.classify.types import Classification
from redline.policy.pack import Pack
from redline.subject import Subject

SURVEILLANCE = ("targeted_surveillance", "mass_surveillance")
_LOOKUP_VERB = re.compile(
    r"(^|_)(lookup|look_up|search|find|query|get|fetch|locate|track|trace|identify|resolve|"
    r"whois|list|enrich|match|screen|vet|pull|select|export|dump|collect|scrape|retrieve|"
    r"profile|check|geolocate|reverse|watch|monitor)(_|$)"
)
_PERSON_EXTRA = re.compile(
    r"(^|_)(profile|contact|owner|driver|suspect|subject|user|customer)(_|$)"
)


def tool_words(name: str) -> str:
    """A tool name as lower-case words joined by "_": `lookupPerson` -> lookup_person."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    return "_".join(w for w in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if w)


def is_surveillance(classification: Classification, packs: Sequence[Pack]) -> bool:
    for category in SURVEILLANCE:
        floor = min(
            [p.thresholds.get(category, classification.thresholds.of(category)) for p in packs]
            or [classification.thresholds.of(category)]
        )
        if classification.score(category) >= floor - classification.thresholds.band_of(category):
            return True
    return False


def _tool_lookup(name: str, records: list[Record]) -> bool:
    words = tool_words(name)
    if not _LOOKUP_VERB.search(words):
        return False
    people = PEOPLE_NOUN.search(words) or _PERSON_EXTRA.search(words)
    return bool(people) or any(r.identifiers for r in records)


def tool_calls(subject: Subject) -> list[tuple[str, dict[str, object]]]:
    if subject.tool_call is not None:
        return [(subject.tool_call.name, subject.tool_call.arguments)]
    return [
        (call.function.name, parse_arguments(call.function.arguments))
        for msg in subject.messages or ()
        for call in msg.tool_calls or ()
    ]


def records_of(subject: Subject) -> list[Record]:
    """Every record of identifiers the subject carries: text, turns, tool-call arguments."""
    records: list[Record] = []
    if subject.text is not None:
        records += records_of_text(subject.text)
    for msg in subject.messages or ():
        records += records_of_text(msg.text())
    for _, arguments in tool_calls(subject):
        records += records_of_arguments(arguments)
    return records


def person_lookup(subject: Subject) -> bool:
    return any(
        _tool_lookup(name, records_of_arguments(arguments))
        for name, arguments in tool_calls(subject)
    )


def subjects(subject: Subject) -> list[Identifier]:
    return subjects_of(records_of(subject))
