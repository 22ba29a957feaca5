"""Escalation pages through PagerDuty's Events API v2, from the outbox.

The dedup key is per incident and level, so a retried delivery updates PagerDuty's alert
rather than opening a second one. A refusal (a wrong routing key) is told in the channel,
because the people on that level were not paged.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.clock import Clock
from bot.core.delivery import GiveUp, RetryLater
from bot.core.ports.errors import ProviderRejected, ProviderUnavailable
from bot.core.ports.pagerduty import PagerDutyEventSender
from bot.core.timeline import EventKind, record_event

log = logging.getLogger(__name__)


class PagerDutyPaging:
    def __init__(self, *, sessions: async_sessionmaker[AsyncSession], sender: PagerDutyEventSender,
                 clock: Clock, source: str = "incident-bot") -> None:
        self._sessions = sessions
        self._sender = sender
        self._clock = clock
        self._source = source

    async def perform(self, payload: dict[str, Any]) -> None:
        incident_id = int(payload["incident_id"])
        try:
            await self._sender.send_event(
                str(payload["routing_key"]), "trigger", dedup_key=str(payload["dedup_key"]),
                summary=str(payload.get("summary", "")), source=self._source,
                severity=payload.get("severity", "critical"),
            )
        except ProviderUnavailable as exc:
            raise RetryLater(str(exc), retry_after=exc.retry_after) from exc
        except ProviderRejected as exc:
            async with self._sessions() as session, session.begin():
                await record_event(session, incident_id=incident_id, kind=EventKind.PAGERDUTY, actor="incident-bot",
                                   now=self._clock(), text=f"❌ PagerDuty refused the escalation page: {exc}")
            raise GiveUp(str(exc)) from exc
