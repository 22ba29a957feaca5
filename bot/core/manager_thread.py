"""The manager thread: one parent message per escalated incident, with a reply per development.

Managers follow incidents in the escalations channel without joining them. The thread starts
with the incident's first escalation; from then on every escalation, severity change, status
update, status change and missed deadline is a reply, and the parent shows the current state.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.outbox import OutboxKind, enqueue
from storage.models import Incident, TimelineEvent


def thread_ordering_key(incident_id: int) -> str:
    # Its own ordering key: replies stay in order without waiting on the incident channel.
    return f"escalation-thread:{incident_id}"


async def note_in_thread(
    session: AsyncSession, *, incident: Incident, event: TimelineEvent, now: datetime, open_thread: bool = False,
) -> bool:
    """Queue ``event`` as a reply in the incident's manager thread, if it has one.

    With ``open_thread`` the thread is started if the incident has none yet. Returns whether a
    reply was queued.
    """
    if incident.escalated_at is None:
        if not open_thread:
            return False
        await session.execute(update(Incident).where(Incident.id == incident.id).values(escalated_at=now)
                              .execution_options(synchronize_session=False))
        incident.escalated_at = now
    await enqueue(session, kind=OutboxKind.MANAGER_THREAD, incident_id=incident.id,
                  ordering_key=thread_ordering_key(incident.id), payload={"event_id": event.id}, now=now)
    return True


async def record_thread_parent(session: AsyncSession, *, incident_id: int, channel_id: str, ts: str) -> None:
    """Keep the thread's parent message; only the first counts, so every reply goes under one parent."""
    await session.execute(
        update(Incident).where(Incident.id == incident_id, Incident.escalation_ts.is_(None))
        .values(escalation_channel_id=channel_id, escalation_ts=ts)
        .execution_options(synchronize_session=False)
    )
