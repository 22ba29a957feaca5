"""APScheduler wiring: one interval job that fires due timers, started with the app.

The timers themselves live in the database (see ``handlers.jobs.fire_timers``); the scheduler
only decides when to look. It looks once at start-up, so timers that fell due while the bot was
down fire at once, then every ``interval`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime
from typing import Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler

JOB_ID = "fire-timers"


class Job(Protocol):
    """A pass over durable timers: the incident timers (fire_timers), the budget's (budget_job)."""

    async def run(self) -> int: ...


class TimerScheduler:
    def __init__(self, job: Job, *, interval: float, job_id: str = JOB_ID) -> None:
        self._job = job
        self._interval = interval
        self._job_id = job_id
        self._scheduler: AsyncIOScheduler | None = None
        # The task APScheduler runs a tick in (its result is APScheduler's, not ours).
        self._running: asyncio.Task[object] | None = None

    def start(self) -> None:
        scheduler = AsyncIOScheduler(timezone="UTC")
        # max_instances=1 and coalesce: a slow pass is never overlapped by the next tick, and
        # ticks missed meanwhile collapse into one.
        scheduler.add_job(self._tick, "interval", seconds=self._interval, id=self._job_id, max_instances=1,
                          coalesce=True, misfire_grace_time=None, next_run_time=datetime.now().astimezone())
        scheduler.start()
        self._scheduler = scheduler

    async def _tick(self) -> None:
        self._running = asyncio.current_task()
        try:
            await self._job.run()
        finally:
            self._running = None

    async def stop(self) -> None:
        """Stop ticking, let a pass in progress finish (it is one transaction), then shut down.

        APScheduler's own shutdown cancels running jobs, so the pass is awaited first.
        """
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is None:
            return
        scheduler.pause()
        running = self._running
        if running is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await running
        scheduler.shutdown(wait=False)
