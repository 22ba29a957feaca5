"""Queueing Slack writes in the same transaction as the change they report.

The core says *what* must reach Slack (set up a channel, refresh a headline, post a timeline
event); the Slack edge decides *how*, and keeps trying until Slack has taken it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.lifecycle import OPEN_STATUSES
from observability import correlation
from storage.models import Incident, OutboxMessage


class OutboxKind(StrEnum):
    """What an outbox row asks for: writes to Slack, and status syncs back to PagerDuty."""

    PROVISION_CHANNEL = "provision_channel"
    REFRESH_HEADLINE = "refresh_headline"
    POST_TIMELINE_EVENT = "post_timeline_event"
    ALERT_SUMMARY = "alert_summary"
    PAGERDUTY_STATUS = "pagerduty_status"
    ACTION_MESSAGE = "action_message"  # post, or edit in place, the message that follows one action
    ESCALATION_PAGE = "escalation_page"  # invite the people paged and brief them in the channel
    MANAGER_THREAD = "manager_thread"  # a reply in the escalations channel's thread, and its parent
    UPDATE_REMINDER = "update_reminder"  # remind the commander, with a Post update button
    ANNOUNCE_UPDATE = "announce_update"  # a published status update, under the announcement
    PAGERDUTY_EVENT = "pagerduty_event"  # an Events API v2 trigger for an escalation level
    POSTMORTEM_DRAFT = "postmortem_draft"  # compose a postmortem draft, keep it, and post it for review
    POSTMORTEM_MESSAGE = "postmortem_message"  # edit the draft's review message after a decision
    RUNBOOK_CHECKLIST = "runbook_checklist"  # choose the runbook if none is, then post or edit its pinned checklist
    NOTICE = "notice"  # an update or resolution notice for one audience, or the resolution's fan-out to them all
    BUDGET_DIGEST = "budget_digest"  # one service's daily error-budget digest, to its channel (no incident)


class OutboxState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


def incident_ordering_key(incident_id: int) -> str:
    return f"incident:{incident_id}"


async def enqueue(
    session: AsyncSession,
    *,
    kind: OutboxKind,
    incident_id: int | None,
    ordering_key: str,
    payload: dict[str, Any],
    now: datetime,
    coalesce_key: str | None = None,
    not_before: datetime | None = None,
) -> OutboxMessage | None:
    """Add a write; with ``coalesce_key``, only if no such write is still waiting."""
    if coalesce_key is not None and await _join_waiting(session, coalesce_key):
        return None
    message = OutboxMessage(
        kind=kind.value,
        incident_id=incident_id,
        ordering_key=ordering_key,
        payload=payload,
        coalesce_key=coalesce_key,
        state=OutboxState.PENDING.value,
        attempts=0,
        created_at=now,
        next_attempt_at=not_before or now,
        correlation_id=correlation.current(),
    )
    if coalesce_key is None:
        session.add(message)
        await session.flush()
        return message
    # Two writers can both see no waiting refresh; the unique key lets exactly one insert.
    try:
        async with session.begin_nested():
            session.add(message)
            await session.flush()
    except IntegrityError:
        return None
    return message


async def _join_waiting(session: AsyncSession, coalesce_key: str) -> bool:
    """Whether a write with this key is still waiting, holding it until this transaction ends.

    A plain read is not enough: the dispatcher could claim the waiting row and render the
    incident between this read and this transaction's commit, and the change would never be
    shown. Touching the row takes its lock (PostgreSQL), so a claim waits for this commit and
    then renders what it committed; a claim that came first has cleared the key, and then
    nothing matches here and a new write is queued. SQLite serialises writers, so there the
    claim cannot fall in between either.
    """
    result = cast(CursorResult[Any], await session.execute(
        update(OutboxMessage).where(OutboxMessage.coalesce_key == coalesce_key)
        .values(coalesce_key=coalesce_key).execution_options(synchronize_session=False)
    ))
    return bool(result.rowcount)


async def enqueue_headline_refresh(
    session: AsyncSession, *, incident_id: int, now: datetime, not_before: datetime | None = None
) -> None:
    """Queue a headline edit unless one is waiting; ``not_before`` paces edits during storms."""
    await enqueue(
        session,
        kind=OutboxKind.REFRESH_HEADLINE,
        incident_id=incident_id,
        ordering_key=incident_ordering_key(incident_id),
        payload={"incident_id": incident_id},
        now=now,
        coalesce_key=f"headline:{incident_id}",
        not_before=not_before,
    )


async def enqueue_refresh_for_open_incidents(session: AsyncSession, *, now: datetime) -> int:
    """Queue a headline refresh for every open incident, so durations shown stay current."""
    ids = (
        await session.scalars(
            select(Incident.id).where(
                Incident.status.in_([s.value for s in OPEN_STATUSES]), Incident.headline_ts.is_not(None)
            )
        )
    ).all()
    for incident_id in ids:
        await enqueue_headline_refresh(session, incident_id=incident_id, now=now)
    return len(ids)
