"""The name heuristic on two labelled sets written for it: names_labelled.jsonl (88 names;
the heuristic was adjusted while reading its misses) and names_heldout.jsonl (40 names,
written afterwards and not used to adjust anything). docs/aggregates.md reports both; the
floors below sit just under the measured figures, so a regression fails here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from redline.aggregate.names import normalize_name, person_names

HERE = Path(__file__).parent
# file -> (recall floor, precision floor); measured 79/88 = 0.898 and 79/80, 37/40 = 0.925
# and 37/39
FLOORS = {"names_labelled.jsonl": (0.89, 0.98), "names_heldout.jsonl": (0.92, 0.94)}


def measure(path: Path) -> tuple[int, int, int]:
    """(found and labelled, labelled, found) over a set, names compared normalised."""
    hit = labelled = found = 0
    for line in path.read_text("utf-8").splitlines():
        row = json.loads(line)
        want = {normalize_name(n) for n in row["names"]}
        got = {normalize_name(n) for n in person_names(row["text"])}
        hit += len(want & got)
        labelled += len(want)
        found += len(got)
    return hit, labelled, found


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_name_recall_and_precision(name: str) -> None:
    hit, labelled, found = measure(HERE / name)
    recall_floor, precision_floor = FLOORS[name]
    assert labelled >= 40
    assert hit / labelled >= recall_floor, f"recall {hit}/{labelled}"
    assert hit / found >= precision_floor, f"precision {hit}/{found}"


def test_titles_names_and_not_names() -> None:
    assert person_names("Ask Mrs. Hudson and Lt. Col. Miriam Cohen.") == [
        "Hudson",
        "Miriam Cohen",
    ]
    assert person_names("Schedule maintenance for the Black Hawk fleet.") == []
    assert person_names("Quarterly Sales Report for the Western Region.") == []
    assert normalize_name("Dr.  Maria   KELLER") == "maria keller"
