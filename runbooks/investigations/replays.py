"""Comparing two replays of the same pinned inputs, output by output: the rules of the Determinism
investigation, in plain Python.

Two outputs are the same when their labels are and no class's score moved by more than the
tolerance. A class one side lacks counts as a score of 0 there, so a changed label set shows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Differences are measured on scores the worker rounded to 6 decimals; float error in the
# subtraction must not push an allowed step of exactly the tolerance over it.
_SLACK = 1e-12


@dataclass(frozen=True)
class Output:
    label: str
    scores: Mapping[str, float]

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "scores": dict(self.scores)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Output:
        return cls(label=str(data["label"]), scores={str(k): float(v) for k, v in dict(data["scores"]).items()})


@dataclass(frozen=True)
class Difference:
    index: int
    before: Output
    after: Output
    max_diff: float
    worst_class: str | None

    @property
    def label_changed(self) -> bool:
        return self.before.label != self.after.label


@dataclass(frozen=True)
class Comparison:
    compared: int
    differences: tuple[Difference, ...]
    max_diff: float  # over every output, within the tolerance or not

    @property
    def identical(self) -> bool:
        return not self.differences

    @property
    def label_changes(self) -> int:
        return sum(1 for d in self.differences if d.label_changed)


def score_gap(before: Output, after: Output) -> tuple[float, str | None]:
    """The largest absolute score difference between two outputs, and the class it is in."""
    worst, gap = None, 0.0
    for name in sorted(set(before.scores) | set(after.scores)):
        diff = abs(before.scores.get(name, 0.0) - after.scores.get(name, 0.0))
        if diff > gap:
            worst, gap = name, diff
    return gap, worst


def compare(before: Sequence[Output], after: Sequence[Output], *, tolerance: float) -> Comparison:
    if len(before) != len(after):
        raise ValueError(f"cannot compare {len(before)} outputs with {len(after)}")
    differences = []
    largest = 0.0
    for index, (one, other) in enumerate(zip(before, after, strict=True)):
        gap, worst = score_gap(one, other)
        largest = max(largest, gap)
        if one.label != other.label or gap > tolerance + _SLACK:
            differences.append(Difference(index, one, other, gap, worst))
    return Comparison(compared=len(before), differences=tuple(differences), max_diff=largest)
