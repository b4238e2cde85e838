"""Measure a classifier on an outside set: a CSV with `text` and `label` (allow/restricted).

The labels say only whether a use is restricted, not which category it is, so the
figures are the decision's: the miss rate (restricted lines the packs allowed) and the
false-block rate (allowed lines held or denied). Extra columns are ignored.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from redline.classify.types import Classifier
from redline.errors import InputError
from redline.policy.pack import Pack
from redline.subject import Subject
from redline.taxonomy import Effect
from redline.training.evaluate import BATCH, EFFECTS, Decisions

LABELS = ("allow", "restricted")


@dataclass(frozen=True)
class ExternalLine:
    line: int  # the CSV's line number, header = 1
    subject: Subject
    restricted: bool


@dataclass
class ExternalReport:
    path: str
    n_restricted: int = 0
    n_allowed: int = 0
    misses: list[int] = field(default_factory=list)  # CSV line numbers
    false_blocks: list[int] = field(default_factory=list)
    decided: dict[str, int] = field(default_factory=lambda: dict.fromkeys(EFFECTS, 0))

    @property
    def miss_rate(self) -> float:
        return len(self.misses) / self.n_restricted if self.n_restricted else 0.0

    @property
    def false_block_rate(self) -> float:
        return len(self.false_blocks) / self.n_allowed if self.n_allowed else 0.0


def read_external(path: Path) -> list[ExternalLine]:
    """The lines of an outside set; InputError naming the line on a bad header or label."""
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            missing = {"text", "label"} - set(reader.fieldnames or ())
            if missing:
                raise InputError(
                    f"{path}: expected the columns text and label, got {reader.fieldnames}"
                )
            lines = []
            for row in reader:
                label = (row["label"] or "").strip().lower()
                if label not in LABELS:
                    raise InputError(
                        f"{path}:{reader.line_num}: label {row['label']!r}, expected "
                        "allow or restricted"
                    )
                try:
                    subject = Subject(text=row["text"] or "")
                except ValidationError as exc:
                    raise InputError(
                        f"{path}:{reader.line_num}: not a request text: {exc}"
                    ) from exc
                lines.append(ExternalLine(reader.line_num, subject, label != "allow"))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{path}: cannot read the CSV: {exc}") from exc
    if not lines:
        raise InputError(f"{path}: no lines to measure")
    return lines


def measure_external(
    classifier: Classifier, lines: Sequence[ExternalLine], packs: Sequence[Pack], path: str
) -> ExternalReport:
    """Classify every line as a request text and decide it under `packs` (no attestations)."""
    decisions = Decisions(packs)
    report = ExternalReport(path)
    for start in range(0, len(lines), BATCH):
        chunk = lines[start : start + BATCH]
        classified = classifier.classify_batch([x.subject for x in chunk])
        for x, cl in zip(chunk, classified, strict=True):
            decided = decisions.decide(cl)
            report.decided[decided] += 1
            if x.restricted:
                report.n_restricted += 1
                if decided == Effect.ALLOW.value:
                    report.misses.append(x.line)
            else:
                report.n_allowed += 1
                if decided != Effect.ALLOW.value:
                    report.false_blocks.append(x.line)
    return report
