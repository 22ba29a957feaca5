"""Queueing an edit of an incident's pinned runbook checklist.

Its own module so the timeline can queue one when an event proves a step done, without the
timeline depending on the checklists that depend on it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.outbox import OutboxKind, enqueue


def checklist_lane(incident_id: int) -> str:
    # Its own lane: choosing may wait on the model worker, and the headline must not wait with it.
    return f"checklist:{incident_id}"


async def request_checklist(session: AsyncSession, *, incident_id: int, now: datetime) -> None:
    """Queue one post-or-edit of the checklist, unless one is already waiting."""
    await enqueue(session, kind=OutboxKind.RUNBOOK_CHECKLIST, incident_id=incident_id,
                  ordering_key=checklist_lane(incident_id), payload={"incident_id": incident_id}, now=now,
                  coalesce_key=checklist_lane(incident_id))
