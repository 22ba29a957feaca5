"""The action rows: each state change is a compare-and-set, so it happens once.

Moving a row out of a state only succeeds if the row is still in that state; a double click,
Slack's retry, or a second approver finds it moved and reads the result instead. Starting an
action also claims its target through a unique column, so two actions on one ECS service,
model or parameter cannot run at once, even across bot replicas sharing PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core import checklists
from bot.core.actions.errors import ActionNotFound
from bot.core.actions.kinds import ActionState
from bot.core.audit import Outcome, record_entry
from bot.core.outbox import OutboxKind, enqueue, incident_ordering_key
from bot.core.timeline import EventKind, record_event
from storage.models import ResponseAction


async def get_action(session: AsyncSession, *, action_id: int) -> ResponseAction:
    action = await session.get(ResponseAction, action_id, populate_existing=True)
    if action is None:
        raise ActionNotFound(f"There is no action #{action_id}.")
    return action


async def find_action(session: AsyncSession, *, action_id: int) -> ResponseAction | None:
    """The action row, or None when there is none (a writer's row for an action that is gone)."""
    return await session.get(ResponseAction, action_id)


async def running_on(session: AsyncSession, *, target: str) -> ResponseAction | None:
    return await session.scalar(select(ResponseAction).where(ResponseAction.active_target == target))


async def move(
    session: AsyncSession, *, action: ResponseAction, to: ActionState, expect: tuple[ActionState, ...],
    now: datetime, values: dict[str, Any] | None = None, claim: bool = False, release: bool = False,
) -> bool:
    """Move ``action`` to ``to`` if it is still in one of ``expect``; False if someone else moved it.

    ``claim`` takes the target for a running action; it raises ``IntegrityError`` (inside a
    savepoint, so the caller's transaction survives) when another action holds it.
    """
    changes: dict[str, Any] = {"state": to.value, "version": ResponseAction.version + 1, **(values or {})}
    if claim:
        changes["active_target"] = action.target
    if release:
        changes["active_target"] = None
    statement = (
        update(ResponseAction)
        .where(ResponseAction.id == action.id, ResponseAction.state.in_([s.value for s in expect]))
        .values(**changes)
        .execution_options(synchronize_session=False)
    )
    if claim:
        async with session.begin_nested():
            result = cast(CursorResult[Any], await session.execute(statement))
    else:
        result = cast(CursorResult[Any], await session.execute(statement))
    if result.rowcount != 1:
        return False
    await session.refresh(action)
    if to.finished:
        # A runbook step that started this action ticks itself on success, and reopens otherwise.
        await checklists.settle_action(session, action_id=action.id, now=now, actor=action.requested_by,
                                       succeeded=to in (ActionState.SUCCEEDED, ActionState.NO_CHANGE))
    return True


def audit(session: AsyncSession, *, action: ResponseAction, actor: str, outcome: Outcome, now: datetime,
          note: str = "") -> None:
    """One audit row per step: who, what, before, after, and the result so far."""
    record_entry(
        session, actor=actor, action=f"action.{action.kind}", outcome=outcome, now=now,
        incident_id=action.incident_id,
        detail={"action_id": action.id, "summary": action.summary, "service": action.service,
                "requested_by": action.requested_by, "decided_by": action.decided_by,
                "before": action.before, "after": action.after, "state": action.state,
                "result": action.result, **({"note": note} if note else {})},
    )


async def record(session: AsyncSession, *, action: ResponseAction, actor: str, now: datetime, text: str,
                 announce: bool = False) -> None:
    """The step on the incident timeline. Only outcomes are posted as their own message:
    the action's own message already shows every step in the channel."""
    await record_event(
        session, incident_id=action.incident_id, kind=EventKind.ACTION, actor=actor, now=now, text=text,
        announce=announce,
        data={"action_id": action.id, "kind": action.kind, "state": action.state, "summary": action.summary,
              "before": action.before, "after": action.after, "result": action.result},
    )


async def record_refusal(session: AsyncSession, *, incident_id: int, actor: str, now: datetime, text: str,
                         data: dict[str, Any]) -> None:
    """A refused request has no action row; its timeline event carries what was asked."""
    await record_event(session, incident_id=incident_id, kind=EventKind.ACTION, actor=actor, now=now, text=text,
                       announce=False, data={"state": "refused", **data})


async def refresh_message(session: AsyncSession, *, action: ResponseAction, now: datetime) -> None:
    """Queue a post (first time) or an edit of the action's message; a burst of edits queues one."""
    await enqueue(
        session, kind=OutboxKind.ACTION_MESSAGE, incident_id=action.incident_id,
        ordering_key=incident_ordering_key(action.incident_id), payload={"action_id": action.id}, now=now,
        coalesce_key=f"action:{action.id}",
    )


async def record_message(session: AsyncSession, *, action_id: int, channel_id: str, message_ts: str) -> None:
    """Keep where the action's message was posted; only the first post counts, so a retried
    post can never point the row at a second message."""
    await session.execute(
        update(ResponseAction).where(ResponseAction.id == action_id, ResponseAction.message_ts.is_(None))
        .values(message_ts=message_ts, channel_id=channel_id)
    )


async def due_for_expiry(session: AsyncSession, *, now: datetime) -> list[ResponseAction]:
    return list((await session.scalars(
        select(ResponseAction).where(ResponseAction.state == ActionState.AWAITING_APPROVAL.value,
                                     ResponseAction.expires_at <= now)
    )).all())


async def left_running(session: AsyncSession) -> list[ResponseAction]:
    return list((await session.scalars(
        select(ResponseAction).where(ResponseAction.state == ActionState.RUNNING.value)
    )).all())


__all__ = ["IntegrityError", "audit", "due_for_expiry", "find_action", "get_action", "left_running", "move",
           "record", "record_message", "record_refusal", "refresh_message", "running_on"]
