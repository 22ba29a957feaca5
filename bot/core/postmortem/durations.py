"""The review's metrics, from timestamps: time to detect, acknowledge, contain and resolve.

Each is measured from the declaration (detection is measured to it), and each that cannot be
measured says why instead of showing a number that means nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.core.lifecycle import Status
from storage.models import Alert, Incident, TimelineEvent

# Actions whose success counts as containing the impact.
CONTAINING_STATES = frozenset({"succeeded", "unverified"})


@dataclass(frozen=True)
class Measured:
    """A duration, or the reason there is none."""

    value: timedelta | None
    start: datetime | None = None
    end: datetime | None = None
    why_not: str = ""
    how: str = ""  # what the end point was, where it is not obvious ("first action: Scale to 6")


@dataclass(frozen=True)
class Durations:
    detect: Measured
    acknowledge: Measured
    contain: Measured
    resolve: Measured


def alert_started_at(alert: Alert) -> datetime:
    """When the monitoring source saw the problem start (an alarm's state-change time), else arrival."""
    raw = (alert.details or {}).get("occurred_at")
    if isinstance(raw, str):
        try:
            parsed = datetime.fromisoformat(raw)
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is not None:
            return min(parsed, alert.first_seen_at)
    return alert.first_seen_at


def measure(incident: Incident, *, alerts: Sequence[Alert], events: Sequence[TimelineEvent]) -> Durations:
    declared = incident.declared_at
    return Durations(
        detect=_detect(declared, alerts),
        acknowledge=_first_status(events, Status.ACKNOWLEDGED, declared,
                                  missing="never acknowledged: it went straight to mitigated or resolved"),
        contain=_contain(declared, events),
        resolve=_resolve(incident),
    )


def _detect(declared: datetime, alerts: Sequence[Alert]) -> Measured:
    if not alerts:
        return Measured(None, why_not="no alert came in: a person declared it")
    first = min(alert_started_at(alert) for alert in alerts)
    if first > declared:
        return Measured(None, start=first, why_not="a person declared it before any alert fired")
    return Measured(declared - first, start=first, end=declared)


def _first_status(events: Sequence[TimelineEvent], status: Status, declared: datetime, *, missing: str) -> Measured:
    for event in events:
        if event.kind == "status_changed" and event.data.get("to") == status.value:
            return Measured(event.occurred_at - declared, start=declared, end=event.occurred_at)
    return Measured(None, why_not=missing)


def _contain(declared: datetime, events: Sequence[TimelineEvent]) -> Measured:
    for event in events:
        if event.kind == "status_changed" and event.data.get("to") == Status.MITIGATED.value:
            return Measured(event.occurred_at - declared, start=declared, end=event.occurred_at,
                            how="marked mitigated")
        if event.kind == "action" and event.data.get("state") in CONTAINING_STATES:
            summary = str(event.data.get("summary") or event.data.get("kind") or "an action")
            return Measured(event.occurred_at - declared, start=declared, end=event.occurred_at,
                            how=f"first action that took effect: {summary}")
    return Measured(None, why_not="no action took effect and it was never marked mitigated")


def _resolve(incident: Incident) -> Measured:
    if incident.resolved_at is None:
        return Measured(None, why_not=f"not resolved yet ({incident.status})")
    return Measured(incident.resolved_at - incident.declared_at, start=incident.declared_at, end=incident.resolved_at)
