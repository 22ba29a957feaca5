"""The escalation policy at work: planning an incident's timers, and what each one does.

Plain Python over the database. Slack and PagerDuty are reached only through outbox rows,
written in the same transaction that fires the timer, so a firing is all or nothing: a timer
that fired has its page, brief and thread reply queued durably, and one that did not has none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import EscalationLevel, IncidentBotConfig
from bot.config.durations import format_duration
from bot.config.severity import Severity
from bot.core import postmortems, timers
from bot.core.errors import InvalidInput, InvalidTransition
from bot.core.lifecycle import Status
from bot.core.manager_thread import note_in_thread
from bot.core.outbox import OutboxKind, enqueue, incident_ordering_key
from bot.core.timeline import EventKind, record_event
from bot.core.timers import TimerKind
from storage.models import Incident, TimelineEvent, Timer

BOT_ACTOR = "incident-bot"


@dataclass(frozen=True)
class Targets:
    """Who one escalation reaches."""

    users: tuple[str, ...] = ()
    usergroups: tuple[str, ...] = ()
    routing_key: str | None = None

    def __bool__(self) -> bool:
        return bool(self.users or self.usergroups or self.routing_key)


@dataclass(frozen=True)
class EscalationPolicy:
    """The configuration's escalation matrix and cadences, in real (scaled) time."""

    config: IncidentBotConfig

    def levels(self, incident: Incident) -> tuple[EscalationLevel, ...]:
        return self.config.escalation_levels(incident.runbook_class, incident.severity)

    def targets(self, incident: Incident, level: int) -> Targets:
        levels = self.levels(incident)
        if not 0 <= level < len(levels):
            raise InvalidInput(_no_such_level(level, levels))
        chosen = levels[level]
        return Targets(users=chosen.notify.users, usergroups=chosen.notify.usergroups,
                       routing_key=self.config.escalation.routing_key(levels, level))

    def delay(self, level: EscalationLevel) -> timedelta:
        return self.config.scaled(level.after)

    def respond_within(self, severity: str) -> timedelta:
        return self.config.scaled(self.config.severity_policy(severity).respond_within)

    def update_every(self, severity: str) -> timedelta:
        return self.config.scaled(self.config.severity_policy(severity).update_every)


def _no_such_level(level: int, levels: tuple[EscalationLevel, ...]) -> str:
    if not levels:
        return "No escalation levels are configured for this incident (see `escalation` in the config)."
    return f"There is no escalation level {level}; this incident's policy has levels 0 to {len(levels) - 1}."


# --- planning ---------------------------------------------------------------------------------


async def plan(session: AsyncSession, *, incident: Incident, policy: EscalationPolicy, now: datetime,
               reason: str) -> None:
    """(Re)schedule the incident's timers from its state now.

    Runs when the incident is declared, reopened, changes severity or gets a status update.
    """
    if not Status(incident.status).is_open:
        await timers.cancel(session, incident_id=incident.id)
        return
    # Read once: the reminder cadence and the escalation levels both count from it.
    triggered_at = await _triggered_at(session, incident=incident)
    await _plan_reminder(session, incident=incident, policy=policy, now=now, reason=reason, triggered_at=triggered_at)
    if Status(incident.status) == Status.TRIGGERED:
        await _plan_escalation(session, incident=incident, policy=policy, now=now, reason=reason, anchor=triggered_at)


async def _plan_reminder(session: AsyncSession, *, incident: Incident, policy: EscalationPolicy, now: datetime,
                         reason: str, triggered_at: datetime) -> None:
    waiting = await timers.pending(session, incident_id=incident.id, kind=TimerKind.STATUS_REMINDER)
    # Misses count updates not given; only an update starts the count again.
    misses = 0 if reason == "update" or not waiting else int(waiting[0].payload.get("misses", 0))
    await timers.cancel(session, incident_id=incident.id, kinds=[TimerKind.STATUS_REMINDER])
    last = await _last_update_at(session, incident=incident, triggered_at=triggered_at)
    due = max(last + policy.update_every(incident.severity), now)
    await timers.schedule(session, incident_id=incident.id, kind=TimerKind.STATUS_REMINDER, due_at=due, now=now,
                          payload={"misses": misses})


async def _plan_escalation(session: AsyncSession, *, incident: Incident, policy: EscalationPolicy, now: datetime,
                           reason: str, anchor: datetime) -> None:
    await timers.cancel(session, incident_id=incident.id, kinds=timers.UNTIL_ACKNOWLEDGED)
    if reason == "reopened" and incident.escalation_level >= 0:
        # Paging starts again from the first level: the people who left may not be watching.
        await session.execute(update(Incident).where(Incident.id == incident.id).values(escalation_level=-1)
                              .execution_options(synchronize_session=False))
        incident.escalation_level = -1
    for index, level in enumerate(policy.levels(incident)):
        if index > incident.escalation_level:
            await timers.schedule(session, incident_id=incident.id, kind=TimerKind.ESCALATE,
                                  due_at=anchor + policy.delay(level), now=now, payload={"level": index})
    if not await _breached_since(session, incident=incident, since=anchor):
        await timers.schedule(session, incident_id=incident.id, kind=TimerKind.RESPONSE_DUE,
                              due_at=anchor + policy.respond_within(incident.severity), now=now)


async def _last_update_at(session: AsyncSession, *, incident: Incident, triggered_at: datetime) -> datetime:
    latest = await session.scalar(
        select(TimelineEvent.occurred_at)
        .where(TimelineEvent.incident_id == incident.id, TimelineEvent.kind == EventKind.STATUS_UPDATE.value)
        .order_by(TimelineEvent.occurred_at.desc()).limit(1)
    )
    return max(latest or incident.declared_at, triggered_at)


async def _triggered_at(session: AsyncSession, *, incident: Incident) -> datetime:
    """When the incident last became unacknowledged: declared, or reopened since."""
    events = await session.scalars(
        select(TimelineEvent)
        .where(TimelineEvent.incident_id == incident.id, TimelineEvent.kind == EventKind.STATUS_CHANGED.value)
        .order_by(TimelineEvent.occurred_at.desc(), TimelineEvent.id.desc())
    )
    for event in events:
        if event.data.get("to") == Status.TRIGGERED.value:
            return event.occurred_at
    return incident.declared_at


async def _breached_since(session: AsyncSession, *, incident: Incident, since: datetime) -> bool:
    found = await session.scalar(
        select(TimelineEvent.id).where(
            TimelineEvent.incident_id == incident.id, TimelineEvent.kind == EventKind.RESPONSE_BREACHED.value,
            TimelineEvent.occurred_at >= since,
        ).limit(1)
    )
    return found is not None


# --- firing -----------------------------------------------------------------------------------


async def fire(session: AsyncSession, *, timer: Timer, policy: EscalationPolicy, now: datetime) -> None:
    """Do what a claimed timer is for, if it still makes sense for the incident as it is now."""
    incident = await session.get(Incident, timer.incident_id, populate_existing=True)
    if incident is None:
        return
    match TimerKind(timer.kind):
        case TimerKind.PLAN:
            await plan(session, incident=incident, policy=policy, now=now, reason=str(timer.payload.get("reason", "")))
        case TimerKind.ESCALATE:
            level = int(timer.payload["level"])
            if Status(incident.status) == Status.TRIGGERED and level > incident.escalation_level:
                levels = policy.levels(incident)
                if level < len(levels):
                    await escalate(session, incident=incident, targets=policy.targets(incident, level), level=level,
                                   actor=BOT_ACTOR, now=now, reason=f"unacknowledged after {_age(incident, now)}")
        case TimerKind.RESPONSE_DUE:
            if Status(incident.status) == Status.TRIGGERED:
                await _record_breach(session, incident=incident, policy=policy, now=now)
        case TimerKind.STATUS_REMINDER:
            if Status(incident.status).is_open:
                await _remind(session, incident=incident, policy=policy, now=now,
                              misses=int(timer.payload.get("misses", 0)) + 1)
        case TimerKind.POSTMORTEM_REVIEW:
            await postmortems.remind_review(session, incident_id=incident.id,
                                            reminders=int(timer.payload.get("reminders", 0)),
                                            review_within=policy.config.scaled(policy.config.postmortems.review_within),
                                            now=now)


def _age(incident: Incident, now: datetime) -> str:
    return format_duration(now - incident.declared_at)


async def escalate_by_hand(
    session: AsyncSession, *, incident_id: int, actor: str, now: datetime, policy: EscalationPolicy,
    targets: Targets | None = None, level: int | None = None,
) -> Incident:
    """`/incident escalate`: page named people, a given level, or (with neither) the next level."""
    incident = await session.get(Incident, incident_id, populate_existing=True)
    if incident is None:
        raise InvalidInput(f"There is no incident with id {incident_id}.")
    if targets is None:
        level = incident.escalation_level + 1 if level is None else level
        levels = policy.levels(incident)
        if level >= len(levels) and levels and incident.escalation_level >= len(levels) - 1:
            raise InvalidInput(f"Incident #{incident.number} already reached the last escalation level "
                               f"({len(levels) - 1}). Name a person instead: `/incident escalate @someone`.")
        targets = policy.targets(incident, level)
    else:
        level = None
    await escalate(session, incident=incident, targets=targets, level=level, actor=actor, now=now,
                   reason="escalated by hand", by_hand=True)
    return incident


async def escalate(
    session: AsyncSession, *, incident: Incident, targets: Targets, level: int | None, actor: str, now: datetime,
    reason: str = "", by_hand: bool = False,
) -> TimelineEvent:
    """Page ``targets``: invite and brief them in the channel, trigger PagerDuty, tell managers.

    ``level`` is the policy level paged, or None for people someone named by hand. Paging the
    first level on its timer is how an incident starts, not an escalation, so only later levels
    and hand escalations open the manager thread.
    """
    if not Status(incident.status).is_open:
        raise InvalidTransition(f"Incident #{incident.number} is {incident.status}; only open incidents escalate.")
    if not targets:
        raise InvalidInput("Nobody to escalate to: that level has no users, user groups or PagerDuty key.")
    values: dict[str, Any] = {}
    if level is not None and level > incident.escalation_level:
        values["escalation_level"] = level
    opens_thread = by_hand or level is None or level > 0
    if opens_thread and incident.escalated_at is None:
        values["escalated_at"] = now
    if values:
        await session.execute(update(Incident).where(Incident.id == incident.id).values(**values)
                              .execution_options(synchronize_session=False))
        for key, value in values.items():
            setattr(incident, key, value)
    event = await record_event(
        session, incident_id=incident.id, kind=EventKind.ESCALATED, actor=actor, now=now, text=reason,
        data={"level": level, "users": list(targets.users), "usergroups": list(targets.usergroups),
              "pagerduty": targets.routing_key is not None},
        announce=False,  # the brief that mentions the people paged is the channel post
    )
    await enqueue(session, kind=OutboxKind.ESCALATION_PAGE, incident_id=incident.id,
                  ordering_key=incident_ordering_key(incident.id), payload={"event_id": event.id}, now=now)
    if targets.routing_key is not None:
        await _trigger_pagerduty(session, incident=incident, routing_key=targets.routing_key, level=level, now=now)
    await note_in_thread(session, incident=incident, event=event, now=now)
    return event


async def _trigger_pagerduty(session: AsyncSession, *, incident: Incident, routing_key: str, level: int | None,
                             now: datetime) -> None:
    # One PagerDuty alert per incident and level: a retried delivery dedups on PagerDuty's side.
    dedup_key = f"incident-bot-{incident.id}-level-{'manual' if level is None else level}"
    await enqueue(
        session, kind=OutboxKind.PAGERDUTY_EVENT, incident_id=incident.id,
        ordering_key=f"pagerduty-events:{incident.id}",
        payload={"routing_key": routing_key, "dedup_key": dedup_key, "incident_id": incident.id,
                 "summary": f"Incident #{incident.number} ({incident.severity}): {incident.title}"[:1024],
                 "severity": "critical" if Severity.parse(incident.severity).rank <= 1 else "error"},
        now=now,
    )


async def _record_breach(session: AsyncSession, *, incident: Incident, policy: EscalationPolicy, now: datetime) -> None:
    within = policy.config.severity_policy(incident.severity).respond_within
    event = await record_event(
        session, incident_id=incident.id, kind=EventKind.RESPONSE_BREACHED, actor=BOT_ACTOR, now=now,
        text=f"No acknowledgement within {format_duration(within)}, the {incident.severity} response time.",
        data={"severity": incident.severity, "respond_within_s": within.total_seconds()},
    )
    await note_in_thread(session, incident=incident, event=event, now=now)


async def _remind(session: AsyncSession, *, incident: Incident, policy: EscalationPolicy, now: datetime,
                  misses: int) -> None:
    cadence = policy.config.severity_policy(incident.severity).update_every
    event = await record_event(
        session, incident_id=incident.id, kind=EventKind.UPDATE_REMINDER, actor=BOT_ACTOR, now=now,
        text=f"Status update due (every {format_duration(cadence)} at {incident.severity}).",
        data={"misses": misses, "commander": incident.commander or incident.declared_by},
        announce=False,  # the reminder with its button is the channel post
    )
    await enqueue(session, kind=OutboxKind.UPDATE_REMINDER, incident_id=incident.id,
                  ordering_key=incident_ordering_key(incident.id), payload={"event_id": event.id}, now=now)
    if misses >= 2:
        # Managers hear when an incident goes quiet: from the second missed update on.
        await note_in_thread(session, incident=incident, event=event, now=now, open_thread=True)
    await timers.schedule(session, incident_id=incident.id, kind=TimerKind.STATUS_REMINDER,
                          due_at=now + policy.update_every(incident.severity), now=now, payload={"misses": misses})
