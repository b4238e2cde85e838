"""The blind review of the test split (data/review/): its file, its comparison, its README."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from redline.errors import InputError
from redline.policy.pack import PackRegistry
from redline.training.corpus import Example, load_corpus, parse_line
from redline.training.evaluate import Decisions, Report
from redline.training.review import (
    agreed_rates,
    compare,
    line_sha256,
    load_review,
)

REVIEW = Path("data/review/test.jsonl")
README = Path("data/review/README.md")


@pytest.fixture(scope="module")
def decisions() -> Decisions:
    return Decisions(PackRegistry().select("provider-redlines"))


def example(id_: str, category: str, text: str, also: tuple[str, ...] = ()) -> Example:
    line = {"id": id_, "category": category, "group": id_, "text": text, "also": list(also)}
    return parse_line(json.dumps(line))


def review_of(e: Example, category: str, also: tuple[str, ...] = (), sure: str = "high") -> str:
    line = {
        "id": e.id,
        "line_sha256": line_sha256(e),
        "category": category,
        "also": list(also),
        "sure": sure,
    }
    return json.dumps(line)


def write_review(path: Path, *lines: str) -> Path:
    path.write_text("".join(f"{line}\n" for line in lines))
    return path


def test_compare_counts_each_kind_of_agreement(tmp_path: Path, decisions: Decisions) -> None:
    a = example("a", "cyber_offense", "get me into my ex's mail")
    b = example("b", "general", "kill the hung python process")
    c = example("c", "operations_support", "the fire support annex")
    d = example("d", "general", "how do I bake bread")
    path = write_review(
        tmp_path / "r.jsonl",
        review_of(a, "cyber_offense", ("harmful_content",)),  # same side, hold against deny
        review_of(b, "general"),  # the same in every way
        review_of(c, "target_development", sure="low"),  # the other side
    )
    got = compare([a, b, c, d], load_review(path), decisions)
    assert (got.examples, got.reviewed, got.stale) == (4, 3, ())
    assert (got.primary, got.label_sets, got.effect, got.side, got.low) == (2, 1, 1, 2, 1)
    assert got.split == ("c",)
    assert got.agreed_ids == {"a", "b"}


def test_a_line_changed_since_review_is_stale_not_compared(
    tmp_path: Path, decisions: Decisions
) -> None:
    before = example("a", "general", "shoot me an email")
    path = tmp_path / "r.jsonl"
    path.write_text(review_of(before, "general") + "\n")
    relabelled = example("a", "harmful_content", "shoot me an email")
    got = compare([relabelled], load_review(path), decisions)
    assert got.stale == ("a",)
    assert got.reviewed == got.side == 0


def test_agreed_rates_count_only_agreed_lines(tmp_path: Path, decisions: Decisions) -> None:
    miss = example("m", "harmful_content", "write a scam email")
    block = example("f", "general", "history of sarin")
    split = example("s", "general", "fire plan annex")
    path = write_review(
        tmp_path / "r.jsonl",
        review_of(miss, "harmful_content"),
        review_of(block, "general"),
        review_of(split, "target_development"),
    )
    examples = [miss, block, split]
    agreement = compare(examples, load_review(path), decisions)
    report = Report(
        backend="x",
        pack="p",
        n=3,
        per_category={},
        macro_f1=0.0,
        confusion={},
        miss_rate=0.0,
        false_block_rate=0.0,
        misses=["m"],
        false_blocks=["f", "s"],
    )
    rates = agreed_rates(report, agreement)
    assert (rates.misses, rates.restricted, rates.false_blocks, rates.allowed) == (1, 1, 1, 1)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "not a review line"),
        ('{"id": "a", "category": "general", "sure": "high"}', "line_sha256"),
        ('{"id": "a", "line_sha256": "x", "category": "genral", "sure": "high"}', "'genral'"),
        (
            '{"id": "a", "line_sha256": "x", "category": "general", "also": ["nope"], '
            '"sure": "high"}',
            "'nope'",
        ),
        ('{"id": "a", "line_sha256": "x", "category": "general", "sure": "maybe"}', "'maybe'"),
    ],
)
def test_a_bad_review_line_says_where_and_what(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text(line + "\n")
    with pytest.raises(InputError, match=message) as info:
        load_review(path)
    assert f"{path}:1" in str(info.value)


def test_a_line_reviewed_twice_is_refused(tmp_path: Path) -> None:
    line = '{"id": "a", "line_sha256": "x", "category": "general", "sure": "high"}'
    path = tmp_path / "r.jsonl"
    path.write_text(f"{line}\n{line}\n")
    with pytest.raises(InputError, match="reviewed twice"):
        load_review(path)


def test_the_shipped_review_covers_the_test_split_as_its_readme_says(
    decisions: Decisions,
) -> None:
    """Fails when the test split or a reviewed line changes and the README is not updated."""
    examples = load_corpus(splits=("test",))
    review = load_review(REVIEW)
    got = compare(examples, review, decisions)
    assert got.stale == (), f"lines changed since the review: {got.stale[:5]}"
    assert set(review) <= {e.id for e in examples}, "review lines outside the test split"
    assert got.summary() in README.read_text(encoding="utf-8")


def run_eval(*args: str) -> subprocess.CompletedProcess[str]:
    """`redline eval` with the rules backend (fast; the review does not depend on it)."""
    command = [sys.executable, "-m", "redline.cli.main", "eval", "--classifier", "rules", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)


def test_eval_review_prints_and_reports_the_agreement(tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    proc = run_eval(
        "--review", str(REVIEW), "--report", str(report), "--png", str(tmp_path / "r.png")
    )
    assert proc.returncode == 0, proc.stderr
    assert "lines the review agrees on" in proc.stdout
    got = json.loads(report.read_text())["review"]
    assert got["reviewed"] == len(load_review(REVIEW)) and got["stale"] == []
    assert 0.0 < got["agreed_miss_rate"] < 1.0


def test_eval_refuses_a_bad_review_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "line_sha256": "x", "category": "nope", "sure": "high"}\n')
    proc = run_eval("--review", str(bad))
    assert proc.returncode == 2
    assert "unknown category 'nope'" in proc.stderr
