"""Slack requests already taken, kept in the database so that every replica refuses a replay."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import SlackRequestSeen

# The column's width: a signature (v0=, 64 hex digits) or a signed event id fits.
KEY_LENGTH = 100


async def remember_request(session: AsyncSession, *, key: str, expires_at: datetime, now: datetime,
                           sweep_expired: bool) -> None:
    """Add ``key``; committing raises ``IntegrityError`` if a replica already took it.

    ``sweep_expired`` also deletes the keys past their expiry, with one indexed delete.
    """
    if sweep_expired:
        await session.execute(delete(SlackRequestSeen).where(SlackRequestSeen.expires_at < now))
    session.add(SlackRequestSeen(signature=key[:KEY_LENGTH], expires_at=expires_at))
