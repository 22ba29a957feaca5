"""The error-budget job: schedule the burn check and the daily digest, and fire each once.

Each tick first makes sure the next burn check and the next digest exist (every replica tries;
the unique key lets one insert each). When budget timers fell due it reads CloudWatch outside
any transaction (a slow read must not hold locks), then claims the due timers and acts in one
short transaction: only the replica whose conditional update claimed a timer acts on it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import IncidentBotConfig
from bot.core import budget_schedule, timers
from bot.core.budget_burns import check_burns, post_digest
from bot.core.budget_measure import Measurement, budgeted_services, measure_all
from bot.core.ports.budgets import EventCountSource
from bot.core.timers import TimerKind
from bot.core.unit_of_work import Core
from handlers.jobs.fire_timers import MAX_ATTEMPTS, RETRY_AFTER, replica_name
from observability import correlation
from storage.models import Timer

log = logging.getLogger(__name__)

JOB_ID = "error-budgets"
Firing = Callable[[AsyncSession, Sequence[Measurement], Mapping[str, Any], datetime], Awaitable[object]]


class BudgetJob:
    def __init__(self, *, core: Core, config: IncidentBotConfig, counts: EventCountSource,
                 fired_by: str | None = None) -> None:
        self._core = core
        self._config = config
        self._counts = counts
        self._fired_by = fired_by or replica_name()
        self._firings: dict[str, Firing] = {
            TimerKind.BURN_CHECK.value: self._check,
            TimerKind.BUDGET_DIGEST.value: self._digest,
        }

    async def _check(self, session: AsyncSession, measurements: Sequence[Measurement],
                     _payload: Mapping[str, Any], now: datetime) -> None:
        await check_burns(session, measurements=measurements, config=self._config, now=now)

    async def _digest(self, session: AsyncSession, measurements: Sequence[Measurement],
                      payload: Mapping[str, Any], now: datetime) -> None:
        await post_digest(session, measurements=measurements, payload=payload, config=self._config, now=now)

    async def run(self) -> int:
        """One tick; returns how many budget timers this replica fired."""
        if not budgeted_services(self._config):
            return 0
        now = self._core.clock()
        try:
            due = await self._schedule_and_find_due(now)
            if not due:
                return 0
            measurements = await measure_all(self._counts, config=self._config, now=now)
            fired = await self._fire(due, measurements=measurements, now=now)
        except SQLAlchemyError as exc:
            log.warning("could not run the error-budget timers: %s", exc)
            return 0
        if fired:
            self._core.outbox_ready()
        return fired

    async def _schedule_and_find_due(self, now: datetime) -> list[int]:
        alerts = self._config.error_budgets
        async with self._core.sessions() as session, session.begin():
            await budget_schedule.ensure_scheduled(
                session, now=now, check_every=self._config.scaled(alerts.check_every), digest_at=alerts.digest_at)
            return [timer.id for timer in await budget_schedule.due(session, now=now)]

    async def _fire(self, due: Sequence[int], *, measurements: Sequence[Measurement], now: datetime) -> int:
        fired = 0
        done: set[str] = set()  # a backlog of checks left by downtime acts once, not once per row
        async with self._core.sessions() as session, session.begin():
            for timer_id in due:
                timer = await session.get(Timer, timer_id, populate_existing=True)
                if timer is None:
                    continue
                kind, attempts, payload = timer.kind, timer.attempts, dict(timer.payload or {})
                correlation.bind(f"timer:{timer_id}")
                try:
                    async with session.begin_nested():
                        if not await timers.claim(session, timer_id=timer_id, now=now, fired_by=self._fired_by):
                            continue  # another replica fired it
                        if kind not in done:
                            await self._firings[kind](session, measurements, payload, now)
                            done.add(kind)
                    fired += 1
                except SQLAlchemyError:
                    raise
                except Exception as exc:  # one bad firing must not stop the budget timers for good
                    log.exception("budget timer %s (%s) failed to fire", timer_id, kind)
                    await timers.record_failure(session, timer_id=timer_id, error=f"{exc.__class__.__name__}: {exc}",
                                                retry_at=now + RETRY_AFTER, give_up=attempts + 1 >= MAX_ATTEMPTS)
        correlation.bind(None)
        return fired
