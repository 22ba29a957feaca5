"""Queueing notices for their destinations: one outbox row (kind ``NOTICE``) per place.

Apart from `bot.core.notices` so the resolve path (`bot.core.incidents`) can queue the
resolution notice without importing what composes it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config.communication import BuiltinAudience, CommunicationConfig
from bot.core.manager_thread import thread_ordering_key
from bot.core.outbox import OutboxKind, enqueue, incident_ordering_key
from bot.core.ports.notices import Publication
from bot.core.unit_of_work import Core
from storage.models import OutboxMessage

AUDIENCE_PREFIX = "audience:"
# A draft for an approval audience (the customer notice), posted in the incident channel with
# the button that sends it for a second person's approval; never to the audience itself.
DRAFT_PREFIX = "draft:"


class Outlet(StrEnum):
    """Where an approved notice is delivered, one outbox row each."""

    CHANNEL = "channel"  # the audience's Slack channel
    STATUS_PAGE = "status_page"  # the audience's status page webhook


class NoticeKind(StrEnum):
    UPDATE = "update"
    RESOLUTION = "resolution"


async def queue_resolution_notice(session: AsyncSession, *, incident_id: int, now: datetime) -> None:
    """Called as the incident resolves: one row that fans out to every destination once delivered
    (where it goes depends on the configuration, which the resolve path does not carry)."""
    await enqueue(session, kind=OutboxKind.NOTICE, incident_id=incident_id,
                  ordering_key=incident_ordering_key(incident_id),
                  payload={"incident_id": incident_id, "notice": NoticeKind.RESOLUTION.value, "fan_out": True,
                           "resolved_at": now.isoformat()}, now=now)


async def queue_notice(session: AsyncSession, *, incident_id: int, notice: NoticeKind, destination: str,
                       now: datetime, event_id: int | None = None) -> None:
    payload: dict[str, Any] = {"incident_id": incident_id, "notice": notice.value, "destination": destination}
    if event_id is not None:
        payload["event_id"] = event_id
    await enqueue(session, kind=OutboxKind.NOTICE, incident_id=incident_id,
                  ordering_key=_ordering_key(incident_id, destination), payload=payload, now=now)


def _ordering_key(incident_id: int, destination: str) -> str:
    # Each place keeps its own order; the channel's notice follows the status change it reports.
    if destination == BuiltinAudience.MANAGERS.value:
        return thread_ordering_key(incident_id)
    if destination == BuiltinAudience.CHANNEL.value:
        return incident_ordering_key(incident_id)
    return f"notice:{destination}:{incident_id}"


async def queue_publication(session: AsyncSession, *, publication: Publication, outlets: tuple[Outlet, ...],
                            now: datetime) -> tuple[str, ...]:
    """One row per outlet, each on its own ordering key so a status page that is down never
    holds up the channel; nothing when this notice was queued before (a replayed run)."""
    key = f"publish:{publication.notice_id}"
    queued = (await session.scalars(select(OutboxMessage.id).where(OutboxMessage.ordering_key.like(key + ":%"))
                                    .limit(1))).first()
    if queued is not None:
        return ()
    for outlet in outlets:
        await enqueue(session, kind=OutboxKind.NOTICE, incident_id=None, ordering_key=f"{key}:{outlet.value}",
                      payload={"publish": publication.notice_id, "outlet": outlet.value,
                               "audience": publication.audience, "text": publication.text,
                               "status": publication.status}, now=now)
    return tuple(outlet.value for outlet in outlets)


class OutboxNoticePublisher:
    """`NoticePublisher` through the outbox: the action's run queues, the outbox delivers and retries."""

    def __init__(self, *, core: Core, communication: CommunicationConfig) -> None:
        self._core = core
        # By audience: its channel, and its status page when it has one.
        self._outlets = {name: (Outlet.CHANNEL, *((Outlet.STATUS_PAGE,) if audience.status_page else ()))
                         for name, audience in communication.approval_audiences().items()}

    async def publish(self, publication: Publication) -> tuple[str, ...]:
        outlets = self._outlets.get(publication.audience, ())
        async with self._core.sessions() as session, session.begin():
            queued = await queue_publication(session, publication=publication, outlets=outlets,
                                             now=self._core.clock())
        self._core.outbox_ready()
        return queued
