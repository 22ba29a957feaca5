"""Reading an incident's alerts, for the parts of the bot that decide from them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Alert


async def alerts_of(session: AsyncSession, *, incident_id: int) -> list[Alert]:
    """The incident's alerts, the first to fire first."""
    return list((await session.scalars(select(Alert).where(Alert.incident_id == incident_id)
                                       .order_by(Alert.first_seen_at, Alert.id))).all())
