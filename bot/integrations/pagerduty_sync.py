"""Sending Slack-side acks and resolves back to PagerDuty, and saying so when that fails.

The local change is already committed when this runs: PagerDuty being down never blocks a
responder. A failed sync is retried from the outbox; the channel hears about the first failure
and about the recovery, not about every retry.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core import incidents
from bot.core.clock import Clock
from bot.core.delivery import GiveUp, RetryLater
from bot.core.ports.errors import ProviderRejected, ProviderUnavailable
from bot.core.ports.pagerduty import IncidentStatus, PagerDutyClient
from bot.core.timeline import EventKind, record_event

log = logging.getLogger(__name__)

# The statuses a sync carries: incidents.transition queues one only for these two.
_PAGERDUTY_STATUSES: dict[str, IncidentStatus] = {"acknowledged": "acknowledged", "resolved": "resolved"}


class PagerDutySync:
    def __init__(self, *, sessions: async_sessionmaker[AsyncSession], client: PagerDutyClient | None,
                 clock: Clock) -> None:
        self._sessions = sessions
        self._client = client
        self._clock = clock

    async def perform(self, payload: dict[str, Any], attempt: int) -> None:
        incident_id, status = int(payload["incident_id"]), str(payload["status"])
        if self._client is None:
            log.info("PagerDuty sync is off (no PAGERDUTY_API_TOKEN); incident %s stays %s locally only",
                     incident_id, status)
            return
        pagerduty_status = _PAGERDUTY_STATUSES.get(status)
        if pagerduty_status is None:
            raise GiveUp(f"PagerDuty has no incident status {status!r}")
        async with self._sessions() as session:
            incident = await incidents.get_incident(session, incident_id=incident_id)
            linked = await incidents.pagerduty_links(session, incident=incident)
        try:
            for pagerduty_id in linked:
                await self._client.set_status(pagerduty_id, pagerduty_status)
        except ProviderUnavailable as exc:
            if attempt == 1:
                await self._tell_channel(incident_id, f"⚠️ Couldn't mark PagerDuty {status} yet ({exc}); retrying.")
            raise RetryLater(str(exc), retry_after=exc.retry_after) from exc
        except ProviderRejected as exc:
            await self._tell_channel(incident_id, f"❌ PagerDuty refused to mark the incident {status}: {exc}")
            raise GiveUp(str(exc)) from exc
        if attempt > 1:
            await self._tell_channel(incident_id, f"✅ PagerDuty is in sync again: marked {status}.")

    async def _tell_channel(self, incident_id: int, text: str) -> None:
        async with self._sessions() as session, session.begin():
            await record_event(
                session, incident_id=incident_id, kind=EventKind.PAGERDUTY, actor="incident-bot",
                now=self._clock(), text=text, data={"sync": True},
            )
