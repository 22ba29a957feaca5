"""The outbox's rows as a dispatcher moves them: the due ones, a claim with a lease, a retry, the end.

Each change is one conditional UPDATE, so two bot processes never deliver the same row, and a
process that dies mid-write leaves a lease that runs out and lets the row be tried again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.outbox import OutboxState
from storage.models import OutboxMessage

# A failure's text is kept for people to read, never a whole traceback.
ERROR_TEXT_MAX = 2000


async def pending_rows(session: AsyncSession, *, limit: int) -> Sequence[OutboxMessage]:
    """The oldest rows not yet delivered or refused, in the order they were queued."""
    return (await session.scalars(
        select(OutboxMessage).where(OutboxMessage.state == OutboxState.PENDING.value)
        .order_by(OutboxMessage.id).limit(limit)
    )).all()


async def claim_row(session: AsyncSession, *, row_id: int, now: datetime, lease: timedelta) -> bool:
    """Take a pending row whose lease (if any) ran out; False when another process holds it."""
    result = cast(CursorResult[Any], await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == row_id,
            OutboxMessage.state == OutboxState.PENDING.value,
            or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
        )
        # Dropping the coalesce key lets a change made during this write queue a fresh
        # refresh, which will render the newer state.
        .values(claimed_until=now + lease, coalesce_key=None, attempts=OutboxMessage.attempts + 1)
        .execution_options(synchronize_session=False)
    ))
    return result.rowcount == 1


async def retry_row_at(session: AsyncSession, *, row_id: int, at: datetime, error: str) -> None:
    """Release the claim and try the row again no earlier than ``at``."""
    await session.execute(
        update(OutboxMessage).where(OutboxMessage.id == row_id)
        .values(claimed_until=None, next_attempt_at=at, last_error=error[:ERROR_TEXT_MAX])
        .execution_options(synchronize_session=False)
    )


async def finish_row(session: AsyncSession, *, row_id: int, state: OutboxState, now: datetime,
                     error: str | None) -> None:
    """The row's end: delivered, or refused for good with the reason."""
    await session.execute(
        update(OutboxMessage).where(OutboxMessage.id == row_id)
        .values(state=state.value, claimed_until=None, delivered_at=now, last_error=error)
        .execution_options(synchronize_session=False)
    )
