"""Keeping the running durations on open incidents' headlines true.

A headline shows how long its incident has been open, and nothing else changes it while the
incident is quiet; so every ``interval`` seconds a refresh is queued for each open incident.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.exc import SQLAlchemyError

from bot.core.outbox import enqueue_refresh_for_open_incidents
from bot.core.unit_of_work import Core

log = logging.getLogger(__name__)


async def keep_headlines_current(*, core: Core, interval: float) -> None:
    """Runs until cancelled; a database that is away skips a round, it does not end the loop."""
    while True:
        await asyncio.sleep(interval)
        try:
            async with core.sessions() as session, session.begin():
                refreshed = await enqueue_refresh_for_open_incidents(session, now=core.clock())
        except SQLAlchemyError as exc:
            log.warning("could not queue headline refreshes: %s", exc)
            continue
        if refreshed:
            core.outbox_ready()
