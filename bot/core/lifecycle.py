"""The incident lifecycle: which status may follow which.

triggered -> acknowledged -> mitigated -> resolved -> closed. Responders may skip ahead (an
incident can be resolved from any open status, or mitigated before anyone acknowledged it), and
a resolved incident may be reopened. Nothing moves backwards otherwise: a late acknowledgement
must never reopen a resolved incident.
"""

from __future__ import annotations

from enum import StrEnum

from bot.core.errors import InvalidTransition


class Status(StrEnum):
    TRIGGERED = "triggered"
    ACKNOWLEDGED = "acknowledged"
    MITIGATED = "mitigated"
    RESOLVED = "resolved"
    CLOSED = "closed"

    @property
    def label(self) -> str:
        return self.value.capitalize()

    @property
    def is_open(self) -> bool:
        return self in OPEN_STATUSES


OPEN_STATUSES = frozenset({Status.TRIGGERED, Status.ACKNOWLEDGED, Status.MITIGATED})

ALLOWED: dict[Status, frozenset[Status]] = {
    Status.TRIGGERED: frozenset({Status.ACKNOWLEDGED, Status.MITIGATED, Status.RESOLVED}),
    Status.ACKNOWLEDGED: frozenset({Status.MITIGATED, Status.RESOLVED}),
    Status.MITIGATED: frozenset({Status.RESOLVED}),
    Status.RESOLVED: frozenset({Status.CLOSED, Status.TRIGGERED}),
    Status.CLOSED: frozenset(),
}

# The verb a person used, for messages that say what could not be done.
VERBS: dict[Status, str] = {
    Status.TRIGGERED: "reopened",
    Status.ACKNOWLEDGED: "acknowledged",
    Status.MITIGATED: "marked mitigated",
    Status.RESOLVED: "resolved",
    Status.CLOSED: "closed",
}


def can_transition(current: Status, target: Status) -> bool:
    return target in ALLOWED[current]


def ensure_transition(current: Status, target: Status, *, number: int) -> None:
    if can_transition(current, target):
        return
    if current == target:
        raise InvalidTransition(f"Incident #{number} is already {current.value}.")
    raise InvalidTransition(
        f"Incident #{number} is {current.value}, so it can't be {VERBS[target]}."
        + _hint(current)
    )


def _hint(current: Status) -> str:
    allowed = sorted(ALLOWED[current], key=list(Status).index)
    if not allowed:
        return " Closed incidents are final."
    return " From here it can be " + " or ".join(VERBS[s] for s in allowed) + "."
