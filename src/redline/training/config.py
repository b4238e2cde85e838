"""What training chooses between, and the targets it chooses by."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MISS_TARGET = 0.03
FALSE_BLOCK_TARGET = 0.05
Progress = Callable[[str], None]


@dataclass(frozen=True)
class TrainConfig:
    c_grid: tuple[float, ...] = (4.0,)
    gate_c_grid: tuple[float, ...] = (4.0, 16.0, 64.0)
    word_min_df: int = 2
    word_max_terms: int = 8000
    char_min_df: int = 3
    char_max_terms: int = 12000
    unit_modes: tuple[str, ...] = ("all", "primary")
    # Where the gate reads: the primary unit's windows and its ~60-word runs ("parts"), or
    # the windows alone ("primary"). Not left to the held-out figures: without the runs a
    # long benign opening dilutes a request at its end below the gate (a 5-sentence
    # preamble took a sarin request from 0.999 to 0.23), and the corpus holds too few such
    # inputs to count it. Held out, adapter gate: 0.854 / 5.9% / 10.2% with the runs,
    # 0.856 / 5.3% / 9.0% without (macro-F1 / miss / false-block).
    gate_units: tuple[str, ...] = ("parts",)
    band_grid: tuple[float, ...] = tuple(round(0.02 * i, 2) for i in range(21))
    pack: str = "provider-redlines"
    # Text that asks for nothing (answers, documents, comments, fiction, posts, messages and
    # technical prose: rounds 7-11, by id prefix): the held-out examples the answer shift is
    # chosen on (Thresholds.for_answers).
    answer_ids: tuple[str, ...] = (
        *("ra-", "rc-", "rn-", "rt-", "rv-"),
        *("rh-", "rx-", "rw-", "rd-", "rl-", "ro-", "rj-"),
        *("qr-", "qs-", "qt-", "qn-", "qe-", "qm-", "qo-"),
        *("pa-", "pb-", "pc-", "pd-", "pe-", "pf-", "pg-"),
    )
    answer_shift_grid: tuple[float, ...] = tuple(round(0.02 * i, 2) for i in range(21))
    # Cross-fitting folds (fold_of: the group hash mod 5; 1 is the validation split, 0 the
    # test split and never here). Each is held out once; its figures pool into the choice.
    folds: tuple[int, ...] = (1, 2, 3, 4)
    seed: int = 0


@dataclass(frozen=True)
class Choice:
    """One candidate's hyper-parameters (see TrainConfig); the head's meta records them."""

    c: float
    gate_c: float | str  # a regularisation, or "adapter": the adapter's own softmax layer
    units: str
    gate_units: str

    def meta(self) -> dict[str, Any]:
        return {"C": self.c, "gate_C": self.gate_c, "units": self.units,
                "gate_units": self.gate_units}  # fmt: skip

    def __str__(self) -> str:
        return f"C={self.c} gate C={self.gate_c} units={self.units} gate={self.gate_units}"
