"""Timeline events: the record of everything that happened in an incident."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.checklist_refresh import request_checklist
from bot.core.outbox import OutboxKind, enqueue, incident_ordering_key
from storage.models import TimelineEvent


class EventKind(StrEnum):
    DECLARED = "declared"
    STATUS_CHANGED = "status_changed"
    SEVERITY_CHANGED = "severity_changed"
    ROLE_ASSIGNED = "role_assigned"
    STATUS_UPDATE = "status_update"
    NOTE = "note"
    ALERT = "alert"  # an alert attached (kept quiet: storms are summarised instead)
    ALERT_CLEARED = "alert_cleared"
    ALL_ALERTS_CLEARED = "all_alerts_cleared"  # posted with a Resolve button
    PAGERDUTY = "pagerduty"  # escalations, reassignments and sync trouble, as PagerDuty reports them
    ACTION = "action"  # a guarded response action: requested, approved, refused, done
    DIAGNOSTIC = "diagnostic"  # one step of a Diagnose run, with its numbers
    ESCALATED = "escalated"  # a level of the escalation policy, or a person, was paged
    RESPONSE_BREACHED = "response_breached"  # nobody acknowledged within the severity's response time
    DEADLINE_MISSED = "deadline_missed"  # not mitigated, or not resolved, within its deadline
    UPDATE_REMINDER = "update_reminder"  # the commander was reminded that a status update is due
    CAPTURED = "captured"  # a Slack message someone put on the timeline (a 📌, the shortcut)
    FOLLOW_UP = "follow_up"  # an action item was added, done or reopened
    POSTMORTEM = "postmortem"  # a postmortem draft, review, approval or failure to post
    RUNBOOK = "runbook"  # the runbook was chosen or changed, or one of its steps was done or reopened
    JOINED = "joined"  # a person joined the incident channel
    BUDGET_BURN = "budget_burn"  # the error budget burns fast enough to open or raise the incident (seed 004)
    EVIDENCE_PRESERVED = "evidence_preserved"  # a snapshot went to the evidence bucket: its manifest and hashes


# Kinds that can prove a runbook step done (bot.core.record_facts): each queues a checklist edit,
# where steps the record now proves tick themselves.
EVIDENCE_KINDS = frozenset({EventKind.STATUS_CHANGED, EventKind.JOINED, EventKind.ROLE_ASSIGNED,
                            EventKind.STATUS_UPDATE, EventKind.DIAGNOSTIC, EventKind.ACTION})


async def record_event(
    session: AsyncSession,
    *,
    incident_id: int,
    kind: EventKind,
    actor: str,
    now: datetime,
    text: str = "",
    data: dict[str, Any] | None = None,
    announce: bool = True,
) -> TimelineEvent:
    """Write an event; with ``announce`` it is also posted in the incident channel."""
    event = TimelineEvent(
        incident_id=incident_id, occurred_at=now, kind=kind.value, actor=actor, text=text, data=data or {}
    )
    session.add(event)
    await session.flush()
    if announce:
        await enqueue(
            session,
            kind=OutboxKind.POST_TIMELINE_EVENT,
            incident_id=incident_id,
            ordering_key=incident_ordering_key(incident_id),
            payload={"event_id": event.id},
            now=now,
        )
    if kind in EVIDENCE_KINDS:
        await request_checklist(session, incident_id=incident_id, now=now)
    return event


async def get_event(session: AsyncSession, *, event_id: int) -> TimelineEvent | None:
    return await session.get(TimelineEvent, event_id)


async def list_events(session: AsyncSession, *, incident_id: int, limit: int | None = None) -> Sequence[TimelineEvent]:
    query = (
        select(TimelineEvent)
        .where(TimelineEvent.incident_id == incident_id)
        .order_by(TimelineEvent.occurred_at, TimelineEvent.id)
    )
    if limit is not None:
        # The most recent ``limit`` events, still oldest first.
        newest = query.order_by(None).order_by(TimelineEvent.occurred_at.desc(), TimelineEvent.id.desc()).limit(limit)
        rows = list((await session.scalars(newest)).all())
        return rows[::-1]
    return (await session.scalars(query)).all()


async def latest_event(session: AsyncSession, *, incident_id: int, kind: EventKind) -> TimelineEvent | None:
    return await session.scalar(
        select(TimelineEvent)
        .where(TimelineEvent.incident_id == incident_id, TimelineEvent.kind == kind.value)
        .order_by(TimelineEvent.occurred_at.desc(), TimelineEvent.id.desc())
        .limit(1)
    )
