"""Subject extraction: exact rules per identifier kind, records, person lookups, bulk rules."""

from __future__ import annotations

from typing import Any

import pytest

from redline.aggregate.bulk import with_bulk_rule
from redline.aggregate.extract import (
    Identifier,
    records_of_arguments,
    records_of_text,
    subjects_of,
)
from redline.aggregate.lookup import person_lookup, subjects
from redline.classify.segments import ToolUse
from redline.classify.tools import tool_rule_hits
from redline.classify.types import CategoryScore, Classification
from redline.subject import Subject, ToolCall
from redline.taxonomy import CATEGORIES


def kinds(text: str) -> set[tuple[str, str]]:
    return {(i.kind, i.value) for r in records_of_text(text) for i in r.identifiers}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail Maria.K@Example.org now", ("email", "maria.k@example.org")),
        ("call +49 171 2345678 tonight", ("phone", "+491712345678")),
        ("call (030) 1234-5678", ("phone", "03012345678")),
        ("IMSI 262011234567890 attached", ("imsi", "262011234567890")),
        ("handset 490154203237518", ("imei", "490154203237518")),
        ("MAC 00-1A-2B-3C-4D-5E seen", ("mac", "00:1a:2b:3c:4d:5e")),
        ("from 203.0.113.7 at noon", ("ip", "203.0.113.7")),
        ("from 2001:db8::7 at noon", ("ip", "2001:db8::7")),
        ("a car with plate B-MW 1234", ("plate", "BMW1234")),
        ("registration AB12 CDE", ("plate", "AB12CDE")),
        ("posts by @shadow_fox", ("handle", "shadow_fox")),
        ("passport no. X1234567", ("document", "X1234567")),
        ("SSN 123-45-6789", ("document", "123-45-6789")),
        ("the man at 48.13712, 11.57542", ("coordinates", "48.1371,11.5754")),
    ],
)
def test_each_identifier_kind(text: str, expected: tuple[str, str]) -> None:
    assert expected in kinds(text)


def test_coordinates_count_only_with_a_person() -> None:
    assert kinds("Convoy at 48.13712, 11.57542 leaves 06:00") == set()


def test_one_person_per_record_unless_a_list() -> None:
    one = records_of_text("Maria Keller, +49 171 2345678, maria.k@example.org")
    assert subjects_of(one) == [Identifier("name", "maria keller")]
    many = records_of_text("Maria Keller and Jonas Okafor")
    assert len(subjects_of(many)) == 2
    people = records_of_arguments({"people": [{"name": "A Bee"}, {"phone": "+4917112345678"}]})
    assert len(subjects_of(people)) == 2


def tool(tool_name: str, **arguments: Any) -> Subject:
    return Subject(tool_call=ToolCall(name=tool_name, arguments=arguments))


@pytest.mark.parametrize(
    ("name", "arguments", "lookup"),
    [
        ("lookup_person", {"name": "Maria Keller"}, True),
        ("searchPeople", {"query": "x"}, True),
        ("get_subscriber", {"msisdn": "+4917112345678"}, True),
        ("search_flights", {"passenger_name": "Maria Keller"}, True),
        ("schedule_convoy", {"route": "MSR Tampa", "driver": "Maria Keller"}, False),
        ("track_shipment", {"id": "SHP-2231"}, False),
        ("get_weather", {"city": "Paris"}, False),
    ],
)
def test_person_lookup(name: str, arguments: dict[str, Any], lookup: bool) -> None:
    assert person_lookup(tool(name, **arguments)) is lookup


def test_keyed_arguments_are_subjects_in_any_case() -> None:
    assert subjects(tool("lookup_person", name="maria KELLER")) == [
        Identifier("name", "maria keller")
    ]


@pytest.mark.parametrize(
    ("name", "arguments"),
    [
        ("search_people", {"filter": {}}),
        ("search_people", {}),
        ("find_persons", {"name": "*", "limit": 500}),
        ("residents_in_area", {"area": "Lindenau", "radius_km": 2}),
        ("query", {"where": "all residents of Lindenau"}),
        ("run_report", {"select": "everyone who visited the clinic"}),
    ],
)
def test_bulk_lookup_is_mass_surveillance_whatever_the_tool_is_called(
    name: str, arguments: dict[str, Any]
) -> None:
    hits = tool_rule_hits(ToolUse("tool_call", name, arguments))
    assert ("mass_surveillance", "tool.bulk_lookup") in [(h.category, h.rule) for h in hits]


@pytest.mark.parametrize(
    ("name", "arguments"),
    [
        ("search_people", {"name": "Maria Keller"}),
        ("list_users", {}),
        ("send_message", {"to": "everyone in the team", "text": "lunch at noon"}),
        ("schedule_convoy", {"route": "MSR Tampa"}),
    ],
)
def test_a_lookup_with_a_discriminant_is_not_bulk(name: str, arguments: dict[str, Any]) -> None:
    assert not tool_rule_hits(ToolUse("tool_call", name, arguments))


def empty() -> Classification:
    return Classification({c: CategoryScore(c, 0.0) for c in CATEGORIES}, "test")


@pytest.mark.parametrize(
    ("text", "bulk"),
    [
        ("List everyone who visited the clinic on Saturday.", True),
        ("Identify every subscriber on tower 12.", True),
        ("Find all residents of Lindenau with a car.", True),
        ("Thank everyone who came to the party.", False),
        ("List the fuel needs for all vehicles.", False),
    ],
)
def test_bulk_text_rule(text: str, bulk: bool) -> None:
    out = with_bulk_rule(Subject(text=text), empty())
    assert (out.score("mass_surveillance") > 0.9) is bulk
