"""Follow-ups: the action items an incident leaves behind, with an owner, a due date and a state."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.errors import InvalidInput
from bot.core.incidents import get_incident
from bot.core.timeline import EventKind, record_event
from storage.models import FollowUp

FOLLOW_UP_TEXT_MAX = 500
FOLLOW_UPS_MAX = 200


class FollowUpState(StrEnum):
    OPEN = "open"
    DONE = "done"


async def add(
    session: AsyncSession, *, incident_id: int, text: str, owner: str | None, due_on: date | None,
    actor: str, now: datetime,
) -> FollowUp:
    text = text.replace("\x00", "").strip()
    if not text:
        raise InvalidInput("Say what needs doing: `/incident followup <text> [@owner] [due]`.")
    if len(text) > FOLLOW_UP_TEXT_MAX:
        raise InvalidInput(f"The follow-up is {len(text)} characters long; the limit is {FOLLOW_UP_TEXT_MAX}.")
    incident = await get_incident(session, incident_id=incident_id)
    count = len(await list_for(session, incident_id=incident_id))
    if count >= FOLLOW_UPS_MAX:
        raise InvalidInput(f"Incident #{incident.number} already has {count} follow-ups, the most it keeps.")
    item = FollowUp(incident_id=incident_id, text=text, owner=owner, due_on=due_on, state=FollowUpState.OPEN.value,
                    created_by=actor, created_at=now)
    session.add(item)
    await session.flush()
    await record_event(session, incident_id=incident_id, kind=EventKind.FOLLOW_UP, actor=actor, now=now, text=text,
                       data={"follow_up_id": item.id, "change": "added", "owner": owner,
                             "due_on": due_on.isoformat() if due_on else None}, announce=False)
    return item


async def list_for(session: AsyncSession, *, incident_id: int) -> Sequence[FollowUp]:
    return (await session.scalars(
        select(FollowUp).where(FollowUp.incident_id == incident_id).order_by(FollowUp.id)
        .execution_options(populate_existing=True)
    )).all()


async def incident_of(session: AsyncSession, *, follow_up_id: int) -> int:
    incident_id = await session.scalar(select(FollowUp.incident_id).where(FollowUp.id == follow_up_id))
    if incident_id is None:
        raise InvalidInput(f"There is no follow-up #{follow_up_id}.")
    return int(incident_id)


async def set_state(
    session: AsyncSession, *, follow_up_id: int, state: FollowUpState, actor: str, now: datetime,
) -> FollowUp:
    """Mark done (or open again). Saying it twice is harmless: the second finds it so already."""
    item = await session.get(FollowUp, follow_up_id, populate_existing=True)
    if item is None:
        raise InvalidInput(f"There is no follow-up #{follow_up_id}.")
    if item.state == state.value:
        return item
    done = state == FollowUpState.DONE
    result = cast(CursorResult[Any], await session.execute(
        update(FollowUp).where(FollowUp.id == follow_up_id, FollowUp.state == item.state)
        .values(state=state.value, done_by=actor if done else None, done_at=now if done else None)
        .execution_options(synchronize_session=False)
    ))
    await session.refresh(item)
    if result.rowcount == 1:
        await record_event(session, incident_id=item.incident_id, kind=EventKind.FOLLOW_UP, actor=actor, now=now,
                           text=item.text, data={"follow_up_id": item.id, "change": "done" if done else "reopened"},
                           announce=False)
    return item
