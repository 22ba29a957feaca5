"""The escalation policy at work: planning an incident's timers, and what each one does.

Plain Python over the database. Slack and PagerDuty are reached only through outbox rows,
written in the same transaction that fires the timer, so a firing is all or nothing: a timer
that fired has its page, brief and thread reply queued durably, and one that did not has none.

Each level pages until the incident reaches its `until` status (acknowledged by default, or
mitigated, or resolved); the planner runs again on every change of status or severity, so a
level stops, or starts waiting again after a reopen, with the incident. Beside the levels it
keeps the deadlines (bot/core/escalation_deadlines.py) and the backup on-call's page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import EscalationLevel, IncidentBotConfig
from bot.config.durations import format_duration
from bot.config.escalation_targets import Until
from bot.config.severity import Severity
from bot.core import postmortems, timers
from bot.core.errors import InvalidInput, InvalidTransition
from bot.core.escalation_deadlines import Deadline, Deadlines, deadlines_for, missed_since, record_missed
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
    schedules: tuple[str, ...] = ()  # PagerDuty schedules: whoever is on call when the page goes out

    def __bool__(self) -> bool:
        return bool(self.users or self.usergroups or self.routing_key or self.schedules)


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
                       routing_key=self.config.escalation.routing_key(levels, level),
                       schedules=chosen.notify.schedules)

    def backup(self) -> Targets:
        """Seed 000's backup on-call (`oncall.backup`); empty when none is configured."""
        backup = self.config.oncall.backup
        return Targets(users=backup.users, usergroups=backup.usergroups)

    def backup_after(self, incident: Incident) -> timedelta:
        """When the backup is paged: `oncall.backup_after`, else when the response time runs out."""
        return self.config.scaled(self.config.oncall.backup_after or self.deadlines(incident).respond)

    def deadlines(self, incident: Incident) -> Deadlines:
        return deadlines_for(self.config, incident)

    def delay(self, level: EscalationLevel) -> timedelta:
        return self.config.scaled(level.after)

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

    Runs when the incident is declared, acknowledged, mitigated, reopened, changes severity or
    gets a status update.
    """
    if not Status(incident.status).is_open:
        await timers.cancel(session, incident_id=incident.id)
        return
    # Read once: the reminder cadence, the escalation levels and the deadlines all count from it.
    triggered_at = await _triggered_at(session, incident=incident)
    await _plan_reminder(session, incident=incident, policy=policy, now=now, reason=reason, triggered_at=triggered_at)
    await _plan_escalation(session, incident=incident, policy=policy, now=now, reason=reason, anchor=triggered_at)


async def _plan_reminder(session: AsyncSession, *, incident: Incident, policy: EscalationPolicy, now: datetime,
                         reason: str, triggered_at: datetime) -> None:
    waiting = await timers.pending(session, incident_id=incident.id, kind=TimerKind.STATUS_REMINDER)
    # Misses count updates not given; only an update starts the count again.
    misses = 0 if reason == "update" or not waiting else int(waiting[0].payload.get("misses", 0))
    await timers.cancel(session, incident_id=incident.id, kinds=[TimerKind.STATUS_REMINDER])
    # A reminder restarts the wait like an update does: a plan made just after a late reminder
    # (an ack, a severity change) must not send the next one at once.
    last = await _last_update_or_reminder_at(session, incident=incident, triggered_at=triggered_at)
    due = max(last + policy.update_every(incident.severity), now)
    await timers.schedule(session, incident_id=incident.id, kind=TimerKind.STATUS_REMINDER, due_at=due, now=now,
                          payload={"misses": misses})


# What the escalation planner owns: the pages and the deadlines. Each plan cancels them all and
# schedules what the incident's status still calls for.
PAGING_TIMERS = (TimerKind.ESCALATE, TimerKind.RESPONSE_DUE, TimerKind.MITIGATE_DUE, TimerKind.RESOLVE_DUE)

# The statuses that stop a level with each `until`.
_REACHED: dict[Until, frozenset[Status]] = {
    Until.ACKNOWLEDGED: frozenset({Status.ACKNOWLEDGED, Status.MITIGATED, Status.RESOLVED, Status.CLOSED}),
    Until.MITIGATED: frozenset({Status.MITIGATED, Status.RESOLVED, Status.CLOSED}),
    Until.RESOLVED: frozenset({Status.RESOLVED, Status.CLOSED}),
}


def pages_while(level: EscalationLevel, status: Status) -> bool:
    """Whether ``level`` still pages an incident in ``status`` (it has not reached the level's `until`)."""
    return status not in _REACHED[level.until]


async def _plan_escalation(session: AsyncSession, *, incident: Incident, policy: EscalationPolicy, now: datetime,
                           reason: str, anchor: datetime) -> None:
    await timers.cancel(session, incident_id=incident.id, kinds=PAGING_TIMERS)
    status = Status(incident.status)
    if reason == "reopened" and incident.escalation_level >= 0:
        # Paging starts again from the first level: the people who left may not be watching.
        await session.execute(update(Incident).where(Incident.id == incident.id).values(escalation_level=-1)
                              .execution_options(synchronize_session=False))
        incident.escalation_level = -1
    for index, level in enumerate(policy.levels(incident)):
        if index > incident.escalation_level and pages_while(level, status):
            await timers.schedule(session, incident_id=incident.id, kind=TimerKind.ESCALATE,
                                  due_at=anchor + policy.delay(level), now=now, payload={"level": index})
    if status == Status.TRIGGERED:
        await _plan_backup(session, incident=incident, policy=policy, now=now, anchor=anchor)
    await _plan_deadlines(session, incident=incident, policy=policy, now=now, anchor=anchor)


async def _plan_backup(session: AsyncSession, *, incident: Incident, policy: EscalationPolicy, now: datetime,
                       anchor: datetime) -> None:
    if policy.backup() and not await _backup_paged_since(session, incident=incident, since=anchor):
        await timers.schedule(session, incident_id=incident.id, kind=TimerKind.ESCALATE,
                              due_at=anchor + policy.backup_after(incident), now=now, payload={"backup": True})


async def _plan_deadlines(session: AsyncSession, *, incident: Incident, policy: EscalationPolicy, now: datetime,
                          anchor: datetime) -> None:
    status = Status(incident.status)
    deadlines = policy.deadlines(incident)
    if status == Status.TRIGGERED and not await _breached_since(session, incident=incident, since=anchor):
        await timers.schedule(session, incident_id=incident.id, kind=TimerKind.RESPONSE_DUE,
                              due_at=anchor + policy.config.scaled(deadlines.respond), now=now)
    for deadline, kind in ((Deadline.MITIGATE, TimerKind.MITIGATE_DUE), (Deadline.RESOLVE, TimerKind.RESOLVE_DUE)):
        within = deadlines.of(deadline)
        if within is None or status not in deadline.still_open_in:
            continue
        if not await missed_since(session, incident_id=incident.id, deadline=deadline, since=anchor):
            await timers.schedule(session, incident_id=incident.id, kind=kind,
                                  due_at=anchor + policy.config.scaled(within), now=now)


async def _last_update_or_reminder_at(session: AsyncSession, *, incident: Incident,
                                      triggered_at: datetime) -> datetime:
    latest = await session.scalar(
        select(TimelineEvent.occurred_at)
        .where(TimelineEvent.incident_id == incident.id,
               TimelineEvent.kind.in_([EventKind.STATUS_UPDATE.value, EventKind.UPDATE_REMINDER.value]))
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


async def _backup_paged_since(session: AsyncSession, *, incident: Incident, since: datetime) -> bool:
    events = await session.scalars(
        select(TimelineEvent).where(
            TimelineEvent.incident_id == incident.id, TimelineEvent.kind == EventKind.ESCALATED.value,
            TimelineEvent.occurred_at >= since,
        )
    )
    return any(event.data.get("backup") for event in events)


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
        case TimerKind.ESCALATE if timer.payload.get("backup"):
            await _page_backup(session, incident=incident, policy=policy, now=now)
        case TimerKind.ESCALATE:
            await _page_level(session, incident=incident, policy=policy, level=int(timer.payload["level"]), now=now)
        case TimerKind.RESPONSE_DUE:
            if Status(incident.status) == Status.TRIGGERED:
                await _record_breach(session, incident=incident, policy=policy, now=now)
        case TimerKind.MITIGATE_DUE:
            await _deadline_due(session, incident=incident, policy=policy, deadline=Deadline.MITIGATE, now=now)
        case TimerKind.RESOLVE_DUE:
            await _deadline_due(session, incident=incident, policy=policy, deadline=Deadline.RESOLVE, now=now)
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


async def _page_level(session: AsyncSession, *, incident: Incident, policy: EscalationPolicy, level: int,
                      now: datetime) -> None:
    # Checked again at firing: the incident may have moved on since the timer was planned.
    levels = policy.levels(incident)
    if level <= incident.escalation_level or level >= len(levels):
        return
    chosen = levels[level]
    if pages_while(chosen, Status(incident.status)):
        await escalate(session, incident=incident, targets=policy.targets(incident, level), level=level,
                       actor=BOT_ACTOR, now=now, reason=f"{chosen.until.missing} after {_age(incident, now)}")


async def _page_backup(session: AsyncSession, *, incident: Incident, policy: EscalationPolicy, now: datetime) -> None:
    targets = policy.backup()
    if Status(incident.status) == Status.TRIGGERED and targets:
        await escalate(session, incident=incident, targets=targets, level=None, actor=BOT_ACTOR, now=now,
                       reason=f"backup on-call: unacknowledged after {_age(incident, now)}", backup=True)


async def _deadline_due(session: AsyncSession, *, incident: Incident, policy: EscalationPolicy, deadline: Deadline,
                        now: datetime) -> None:
    if Status(incident.status) in deadline.still_open_in:
        await record_missed(session, incident=incident, deadline=deadline, deadlines=policy.deadlines(incident),
                            now=now, next_page=await _next_page(session, incident=incident, policy=policy))


async def _next_page(session: AsyncSession, *, incident: Incident, policy: EscalationPolicy) -> str | None:
    """The level that pages next, and when, as the planner left it: for the missed-deadline notice."""
    waiting = await timers.pending(session, incident_id=incident.id, kind=TimerKind.ESCALATE)
    levels = policy.levels(incident)
    for timer in waiting:
        index = timer.payload.get("level")
        if isinstance(index, int) and 0 <= index < len(levels):
            names = _names(policy.targets(incident, index))
            return f"level {index} ({names}) at {format_duration(timer.due_at - incident.declared_at)}" \
                if names else f"level {index}"
    return None


def _names(targets: Targets) -> str:
    return ", ".join([f"<@{user}>" for user in targets.users] + [f"<!subteam^{group}>" for group in targets.usergroups]
                     + [f"PagerDuty schedule {schedule}" for schedule in targets.schedules])


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
    reason: str = "", by_hand: bool = False, backup: bool = False,
) -> TimelineEvent:
    """Page ``targets``: invite and brief them in the channel, trigger PagerDuty, tell managers.

    ``level`` is the policy level paged, or None for people someone named by hand. Paging the
    first level on its timer is how an incident starts, not an escalation, so only later levels
    and hand escalations open the manager thread.
    """
    if not Status(incident.status).is_open:
        raise InvalidTransition(f"Incident #{incident.number} is {incident.status}; only open incidents escalate.")
    if not targets:
        raise InvalidInput("Nobody to escalate to: that level has no users, user groups, schedules or PagerDuty key.")
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
    data: dict[str, Any] = {"level": level, "users": list(targets.users), "usergroups": list(targets.usergroups),
                            "pagerduty": targets.routing_key is not None}
    if targets.schedules:
        data["schedules"] = list(targets.schedules)  # who is on call is asked when the page is delivered
    if backup:
        data["backup"] = True
    event = await record_event(
        session, incident_id=incident.id, kind=EventKind.ESCALATED, actor=actor, now=now, text=reason, data=data,
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
    deadlines = policy.deadlines(incident)
    within = deadlines.respond
    event = await record_event(
        session, incident_id=incident.id, kind=EventKind.RESPONSE_BREACHED, actor=BOT_ACTOR, now=now,
        text=f"No acknowledgement within {format_duration(within)}, the {deadlines.source} response time.",
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
