"""Timer rows: schedule, cancel, and claim the ones that fell due.

A timer is claimed and fired in one transaction. On PostgreSQL the claim reads due rows with
``FOR UPDATE SKIP LOCKED``, so a second replica passes over rows the first is firing instead of
waiting for them; on SQLite, which has no row locks, every claim is a conditional update
(``... WHERE state = 'pending'``) and only the one writer that changed the row fires it. Both
paths end in that conditional update, so a timer is fired once whichever database runs it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Timer


class TimerKind(StrEnum):
    # Work out the incident's timers from its current state and the policy. The core queues
    # one on every change that affects them (declared, severity, update posted, reopened), so
    # the core needs no policy and the replica that claims it does the planning once.
    PLAN = "plan"
    ESCALATE = "escalate"  # page the next level of the escalation policy
    RESPONSE_DUE = "response_due"  # nobody acknowledged within the severity's response time
    STATUS_REMINDER = "status_reminder"  # the commander's status update is due
    POSTMORTEM_REVIEW = "postmortem_review"  # the postmortem is still not approved
    MITIGATE_DUE = "mitigate_due"  # not mitigated within the severity's (or runbook's) mitigation deadline
    RESOLVE_DUE = "resolve_due"  # not resolved within the resolution deadline
    # Timers of no incident (``incident_id`` None), fired by the budget job, not by fire_timers:
    BURN_CHECK = "burn_check"  # read every budgeted service's error budget and judge its burn
    BUDGET_DIGEST = "budget_digest"  # the daily error-budget digest, to each service's channel


class TimerState(StrEnum):
    PENDING = "pending"
    FIRED = "fired"
    CANCELLED = "cancelled"
    FAILED = "failed"  # kept failing; left for a person to look at


# What acknowledging stops: nobody needs paging any more, but updates are still owed.
UNTIL_ACKNOWLEDGED = (TimerKind.ESCALATE, TimerKind.RESPONSE_DUE)


async def schedule(
    session: AsyncSession, *, incident_id: int, kind: TimerKind, due_at: datetime, now: datetime,
    payload: dict[str, Any] | None = None,
) -> Timer:
    timer = Timer(incident_id=incident_id, kind=kind.value, due_at=due_at, state=TimerState.PENDING.value,
                  payload=payload or {}, created_at=now, attempts=0)
    session.add(timer)
    await session.flush()
    return timer


async def request_plan(session: AsyncSession, *, incident_id: int, now: datetime, reason: str) -> None:
    """Ask the scheduler to (re)work out this incident's timers, as soon as it next looks."""
    await schedule(session, incident_id=incident_id, kind=TimerKind.PLAN, due_at=now, now=now,
                   payload={"reason": reason})


# What an incident's own lifecycle governs. The postmortem review reminder outlives the
# resolve that starts it, and only the postmortem's approval cancels it.
INCIDENT_TIMERS = tuple(kind for kind in TimerKind if kind != TimerKind.POSTMORTEM_REVIEW)


async def cancel(
    session: AsyncSession, *, incident_id: int, kinds: Iterable[TimerKind] = INCIDENT_TIMERS,
) -> int:
    """Cancel the incident's pending timers (of ``kinds``, by default all the incident's own)."""
    query = update(Timer).where(Timer.incident_id == incident_id, Timer.state == TimerState.PENDING.value)
    query = query.where(Timer.kind.in_([kind.value for kind in kinds]))
    result = cast(CursorResult[Any], await session.execute(
        query.values(state=TimerState.CANCELLED.value).execution_options(synchronize_session=False)
    ))
    return int(result.rowcount or 0)


async def pending(session: AsyncSession, *, incident_id: int, kind: TimerKind | None = None) -> Sequence[Timer]:
    query = select(Timer).where(Timer.incident_id == incident_id, Timer.state == TimerState.PENDING.value)
    if kind is not None:
        query = query.where(Timer.kind == kind.value)
    return (await session.scalars(query.order_by(Timer.due_at, Timer.id))).all()


async def due(session: AsyncSession, *, now: datetime, limit: int) -> Sequence[Timer]:
    """Pending timers that fell due, oldest first, locked for this transaction where the
    database can lock rows (PostgreSQL skips rows another replica holds)."""
    query = (
        select(Timer)
        .where(Timer.state == TimerState.PENDING.value, Timer.due_at <= now)
        # Incident timers only: the budget job claims its own (bot/core/budget_schedule.py).
        .where(Timer.incident_id.is_not(None))
        .order_by(Timer.due_at, Timer.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return (await session.scalars(query.execution_options(populate_existing=True))).all()


async def claim(session: AsyncSession, *, timer_id: int, now: datetime, fired_by: str) -> bool:
    """Mark one due timer fired; False when another transaction already did (or cancelled it)."""
    result = cast(CursorResult[Any], await session.execute(
        update(Timer)
        .where(Timer.id == timer_id, Timer.state == TimerState.PENDING.value)
        .values(state=TimerState.FIRED.value, fired_at=now, fired_by=fired_by)
        .execution_options(synchronize_session=False)
    ))
    return result.rowcount == 1


async def record_failure(
    session: AsyncSession, *, timer_id: int, error: str, retry_at: datetime, give_up: bool,
) -> None:
    """A firing that raised: try again later, or stop after too many tries."""
    values: dict[str, Any] = {"attempts": Timer.attempts + 1, "last_error": error[:2000]}
    if give_up:
        values["state"] = TimerState.FAILED.value
    else:
        values["due_at"] = retry_at
    await session.execute(
        update(Timer).where(Timer.id == timer_id, Timer.state == TimerState.PENDING.value)
        .values(**values).execution_options(synchronize_session=False)
    )
