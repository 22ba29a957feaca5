"""What the action pipeline asks of the runbook library, which sits above the core.

A finished action ticks the checklist steps it did, whichever button started it; only the
runbook library knows which steps those are, so the pipeline is handed this view of it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol


class DoneStep(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def title(self) -> str: ...


class RunbookSteps(Protocol):
    def done_by_action(self, runbook: str, *, kind: str, before: Mapping[str, Any],
                       after: Mapping[str, Any]) -> Sequence[DoneStep]:
        """The steps of the runbook ``runbook`` that a finished action did; none if it is unknown."""
        ...
