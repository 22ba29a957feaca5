"""An incident's deadlines (acknowledge, mitigate, resolve), and what a missed one does.

The severity gives each deadline (`severities.P0.mitigate_within`); a runbook class may carry
its own clock (`escalation.runbook_deadlines`, seed 001's 15 minutes for a regression), and the
earlier of the two holds, since both are promises someone made. A missed deadline is said in
the channel and in the managers' thread and kept on the timeline, once per deadline each time
the incident is triggered; who is paged next is the escalation levels' business (their `until`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import IncidentBotConfig
from bot.config.durations import format_duration
from bot.core.lifecycle import Status
from bot.core.manager_thread import note_in_thread
from bot.core.timeline import EventKind, record_event
from storage.models import Incident, TimelineEvent

BOT_ACTOR = "incident-bot"


class Deadline(StrEnum):
    MITIGATE = "mitigate"
    RESOLVE = "resolve"

    @property
    def still_open_in(self) -> frozenset[Status]:
        """The statuses in which this deadline is still unmet."""
        if self == Deadline.MITIGATE:
            return frozenset({Status.TRIGGERED, Status.ACKNOWLEDGED})
        return frozenset({Status.TRIGGERED, Status.ACKNOWLEDGED, Status.MITIGATED})


# What to do about it, after the seeds: seed 004's Severity 1 "consider emergency rollback" at
# 30 minutes and Severity 2's "implement mitigation or escalate to Severity 1"; its "resolve or
# schedule maintenance window" and "resolve or create fix plan".
_ADVICE: dict[Deadline, str] = {
    Deadline.MITIGATE: "Mitigate now (roll back, fail over, scale out), or raise the severity.",
    Deadline.RESOLVE: "Resolve it, or post an update with the fix plan and when it lands.",
}
_VERB: dict[Deadline, str] = {Deadline.MITIGATE: "mitigated", Deadline.RESOLVE: "resolved"}


@dataclass(frozen=True)
class Deadlines:
    """An incident's deadlines as configured (not scaled), each counted from when it was triggered."""

    respond: timedelta
    mitigate: timedelta | None
    resolve: timedelta | None
    source: str  # whose clock: "P1", or "P1 and model_regression" when the runbook's is earlier

    def of(self, deadline: Deadline) -> timedelta | None:
        return self.mitigate if deadline == Deadline.MITIGATE else self.resolve


def _earliest(first: timedelta | None, second: timedelta | None) -> timedelta | None:
    given = [d for d in (first, second) if d is not None]
    return min(given) if given else None


def deadlines_for(config: IncidentBotConfig, incident: Incident) -> Deadlines:
    severity = config.severity_policy(incident.severity)
    own = config.escalation.runbook_deadlines.get(incident.runbook_class or "")
    if own is None:
        return Deadlines(respond=severity.respond_within, mitigate=severity.mitigate_within,
                         resolve=severity.resolve_within, source=incident.severity)
    return Deadlines(
        respond=_earliest(severity.respond_within, own.respond_within) or severity.respond_within,
        mitigate=_earliest(severity.mitigate_within, own.mitigate_within),
        resolve=_earliest(severity.resolve_within, own.resolve_within),
        source=f"{incident.severity} and {incident.runbook_class}",
    )


async def missed_since(session: AsyncSession, *, incident_id: int, deadline: Deadline, since: datetime) -> bool:
    """Whether this deadline was already told as missed since ``since`` (the last trigger)."""
    events = await session.scalars(
        select(TimelineEvent).where(
            TimelineEvent.incident_id == incident_id, TimelineEvent.kind == EventKind.DEADLINE_MISSED.value,
            TimelineEvent.occurred_at >= since,
        )
    )
    return any(event.data.get("deadline") == deadline.value for event in events)


async def record_missed(session: AsyncSession, *, incident: Incident, deadline: Deadline, deadlines: Deadlines,
                        now: datetime, next_page: str | None) -> TimelineEvent:
    """Tell the channel and the managers that ``deadline`` passed, and keep it on the timeline."""
    within = deadlines.of(deadline) or timedelta(0)
    next_line = f" Next page: {next_page}." if next_page else ""
    event = await record_event(
        session, incident_id=incident.id, kind=EventKind.DEADLINE_MISSED, actor=BOT_ACTOR, now=now,
        text=(f"Not {_VERB[deadline]} within {format_duration(within)}, the {deadlines.source} "
              f"{deadline.value} deadline. {_ADVICE[deadline]}{next_line}"),
        data={"deadline": deadline.value, "within_s": within.total_seconds(), "severity": incident.severity,
              "runbook": incident.runbook_class},
    )
    # Managers hear of a missed mitigation or resolution even before any escalation.
    await note_in_thread(session, incident=incident, event=event, now=now, open_thread=True)
    return event
