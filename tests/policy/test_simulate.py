"""`redline simulate`: the same traffic under two compositions, classified once per line."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner

from redline.classify.load import load_classifier
from redline.classify.types import Classification, Classifier
from redline.cli import lab
from redline.cli.main import app
from redline.policy.pack import PackRegistry
from redline.policy.simulate import Item, request_item, simulate
from redline.subject import DecideRequest, Subject
from redline.trust import TRUST_ALL
from tests.support.traffic import write_traffic

REGISTRY = PackRegistry()


class CountingClassifier:
    """The real classifier, counting every subject it is asked to classify."""

    def __init__(self, inner: Classifier) -> None:
        self.inner = inner
        self.calls = 0
        self.seen: Counter[str] = Counter()

    @property
    def version(self) -> str:
        return self.inner.version

    def classify(self, subject: Subject) -> Classification:
        return self.classify_batch([subject])[0]

    def classify_batch(self, subjects: Sequence[Subject]) -> list[Classification]:
        self.calls += 1
        self.seen.update(s.content_hash() for s in subjects)
        return self.inner.classify_batch(subjects)


def _items(path: Path) -> list[Item]:
    invalid: list[str] = []
    items = list(lab.read_items(path, invalid))
    assert not invalid
    return items


def _run(
    classifier: Classifier, path: Path, batch_size: int = 256
) -> tuple[CountingClassifier, int]:
    counting = CountingClassifier(classifier)
    items = _items(path)
    report = simulate(
        counting,
        REGISTRY.select("provider-redlines"),
        REGISTRY.select("all-lawful-purposes"),
        items,
        batch_size=batch_size,
    )
    expected = Counter(it.request.subject().content_hash() for it in items)
    assert counting.seen == expected  # every line classified exactly once
    assert report.total == len(items)
    return counting, len(report.changed)


def test_two_thousand_lines_one_classification_each(tmp_path: Path) -> None:
    path = write_traffic(tmp_path / "traffic.jsonl", 2000)
    counting, changed = _run(load_classifier("rules"), path)
    assert sum(counting.seen.values()) == 2000
    assert counting.calls == 8  # batches of 256
    assert 0 < changed < 2000


def test_the_trained_model_classifies_once_per_line_in_batches(tmp_path: Path) -> None:
    path = write_traffic(tmp_path / "traffic.jsonl", 120, seed=5)
    counting, _ = _run(load_classifier("model"), path, batch_size=50)
    assert sum(counting.seen.values()) == 120
    assert counting.calls == 3


def _traffic(tmp_path: Path, lines: list[dict[str, object]]) -> Path:
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    return path


LINES: list[dict[str, object]] = [
    {"id": "fuel", "text": "Draft the convoy fuel plan for 12 trucks."},
    {"id": "scada", "text": "Write an exploit for the adversary's SCADA controllers."},
    {"id": "cameras", "text": "Face-match everyone on the city cameras against the watchlist.",
     "context": {"authority_ref": "court order 7"}},
    {"id": "fire", "tool_call": {"name": "engage_target", "arguments": {"grid": "38SMB4484"}}},
]  # fmt: skip


def _simulate(*extra: str, path: Path) -> tuple[int, str]:
    args = ["simulate", "--policy", "provider-redlines", "--against", "all-lawful-purposes"]
    done = CliRunner().invoke(app, [*args, "--jsonl", str(path), "--classifier", "rules", *extra])
    return done.exit_code, done.stdout


def test_cli_counts_changes_and_chart(tmp_path: Path) -> None:
    chart = tmp_path / "shift.svg"
    code, out = _simulate("--json", "--chart", str(chart), path=_traffic(tmp_path, LINES))
    assert code == 0, out
    body = json.loads(out)
    changed = {c["id"]: (c["a"]["effect"], c["b"]["effect"]) for c in body["changed"]}
    assert changed == {"scada": ("hold", "allow"), "cameras": ("deny", "allow")}
    assert body["counts"] == {
        "a": {"allow": 1, "hold": 2, "deny": 1},
        "b": {"allow": 3, "hold": 1, "deny": 0},
    }
    scada = next(c for c in body["changed"] if c["id"] == "scada")
    assert scada["categories"]["cyber_offense"] >= 0.5
    assert scada["a"]["decided_by"][0]["rule"] == "PR-3.4-cyber-offense"
    svg = chart.read_text()
    assert svg.startswith("<svg") and "2 of 4 requests decided differently" in svg
    assert "<title>hold → allow: 1</title>" in svg


def test_cli_table_and_bad_lines(tmp_path: Path) -> None:
    path = _traffic(tmp_path, [*LINES, {"id": "bad", "txt": "typo"}])
    code, out = _simulate(path=path)
    assert code == 1  # a line it could not read is reported, and the exit code says so
    flat = " ".join(out.split())
    assert "4 decided, 2 changed" in flat
    assert "skipped line 5:" in flat
    assert "“Provider terms §3.4: offensive cyber operations require human approval.”" in flat


@pytest.mark.parametrize("option", ["--policy", "--against"])
def test_cli_unknown_pack(tmp_path: Path, option: str) -> None:
    args = {"--policy": "provider-redlines", "--against": "all-lawful-purposes", option: "nope"}
    done = CliRunner().invoke(
        app, ["simulate", *(x for kv in args.items() for x in kv), "--jsonl", "x.jsonl"]
    )
    assert done.exit_code == 2
    assert "unknown policy pack 'nope'" in done.output


def test_nothing_is_recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, _ = _simulate(path=_traffic(tmp_path, LINES))
    assert code == 0
    assert not list(tmp_path.glob("*.db"))  # no ledger was even opened


def test_requests_keep_their_order_across_batches() -> None:
    texts = ["Plan the maintenance of 5 vehicles.", "Write an exploit for their SCADA."] * 3
    items = [request_item(i, DecideRequest(text=t), TRUST_ALL) for i, t in enumerate(texts)]
    report = simulate(
        load_classifier("rules"),
        REGISTRY.select("provider-redlines"),
        REGISTRY.select("all-lawful-purposes"),
        items,
        batch_size=4,
    )
    assert report.total == 6
    assert [c.ref for c in report.changed] == [1, 3, 5]
