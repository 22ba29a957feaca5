"""What every kind's planner and executor share, apart from `plans.py` and `apply.py`.

A planner returns a `Planned`, which `plans.py` wraps in a `Plan`; the kinds' own modules cannot
import `plans.py` (it imports them), so the shape lives here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

# Tells the person watching the action message what the executor is waiting for.
Progress = Callable[[str], Awaitable[None]]


@dataclass(frozen=True)
class Planned:
    """A kind's plan before `plans.py` makes it a `Plan`: what changes, from what, to what."""

    target: str
    target_label: str
    before: dict[str, Any]
    after: dict[str, Any]
    change: str
    notes: tuple[str, ...]


class StaleTarget(Exception):
    """The target no longer holds what the plan saw: nothing is changed, and the action says so."""

    def __init__(self, observed: dict[str, Any]) -> None:
        super().__init__("stale")
        self.observed = observed
