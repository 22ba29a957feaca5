"""The inbox's processor: applies acknowledged webhook deliveries, in arrival order, after the ack.

Each pass is one transaction: take the inbox lease (one process applies at a time, across
replicas), apply pending deliveries until the batch is full or its time is up, measure what is
still waiting, commit. The time bound keeps a pass short, because on SQLite every other write
(the next appends, a person's command) waits for it. Woken by each append, and by a poll, so a
backlog left by a crash, or by another replica, is taken up without one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError

from bot.config import IncidentBotConfig
from bot.core import inbox
from bot.core.inbox import Applied
from bot.core.unit_of_work import Core
from bot.metrics import Metrics
from handlers.webhooks.inbox_writer import InboxState

log = logging.getLogger(__name__)

# Deliveries a second above which the processor holds its passes back for the acks: more than it
# can apply in that time anyway (about 200 a second on SQLite).
STORM_RATE = 500.0


class InboxProcessor:
    def __init__(self, *, core: Core, config: IncidentBotConfig, metrics: Metrics, state: InboxState,
                 batch: int = 200, pass_seconds: float = 0.05, poll_interval: float = 1.0,
                 gather_seconds: float = 0.02, max_defer_seconds: float = 1.0) -> None:
        self._core = core
        self._config = config
        self._metrics = metrics
        self._state = state
        self._batch = batch
        self._pass_seconds = pass_seconds
        self._gather_seconds = gather_seconds
        self._max_defer_seconds = max_defer_seconds
        self._arrivals: Callable[[], int] = lambda: 0
        # When the arrivals were last counted, and how many there were: the rate since then is
        # the storm's, read without waiting when a pass took longer than a window.
        self._mark = (time.monotonic(), 0)
        self._poll_interval = poll_interval
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="inbox-processor")

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def give_way_to(self, arrivals: Callable[[], int]) -> None:
        """Hold passes back while deliveries arrive in a storm; ``arrivals`` counts them (the
        inbox writer's count of appends asked for)."""
        self._arrivals = arrivals
        self._mark = (time.monotonic(), arrivals())

    async def drain(self) -> int:
        """Apply until nothing is pending (or another process holds the lease); how many applied."""
        total = 0
        while True:
            await self._give_way()
            applied = await self.pass_once()
            total += len(applied)
            if not applied or self._state.pending == 0:
                return total

    async def _give_way(self) -> None:
        """Acks first: while deliveries arrive faster than ``STORM_RATE`` a pass waits, so a
        storm is acknowledged at the writer's speed and applied right after; but never more than
        ``max_defer_seconds``, so a storm that does not stop is still applied as it goes. A pass
        holds SQLite's one writer, and the CPU on either database: run in the middle of a storm,
        it was the acks' worst latency. Alerts at an ordinary pace (a hundred a second) are
        applied at once. The rate is read over the time since the last look when that is one to
        two windows of ``gather_seconds`` (passes that follow one another need no wait to tell),
        else over a window waited for now."""
        deadline = time.monotonic() + self._max_defer_seconds
        while True:
            since, before = self._mark
            waited = time.monotonic() - since
            if waited > 2 * self._gather_seconds:
                # Counted too long ago: a storm that began a moment ago would be diluted in it.
                since, before = time.monotonic(), self._arrivals()
                waited = 0.0
            if waited < self._gather_seconds:  # a window too short to tell: wait out the rest
                await asyncio.sleep(self._gather_seconds - waited)
            now, count = time.monotonic(), self._arrivals()
            self._mark = (now, count)
            if (count - before) / (now - since) < STORM_RATE or now >= deadline:
                return

    async def pass_once(self) -> list[Applied]:
        async with self._core.sessions() as session, session.begin():
            applied = await inbox.apply_pending(session, config=self._config, now=self._core.clock(),
                                                limit=self._batch, seconds=self._pass_seconds) \
                if await inbox.take_lease(session) else []
            backlog = await inbox.backlog(session)
        self._state.measured(backlog, age=backlog.oldest_age(self._core.clock()))
        for (source, outcome), count in inbox.outcomes(applied).items():
            self._metrics.alerts_applied.labels(source=source, outcome=outcome).inc(count)
        if applied:
            self._core.outbox_ready()
        return applied

    async def _run(self) -> None:
        while True:
            started = time.monotonic()
            try:
                await self.drain()
            except (SQLAlchemyError, OSError) as exc:
                # The database is away: nothing was marked applied; the next pass tries again.
                log.warning("could not apply webhook deliveries: %s", exc.__class__.__name__)
            except Exception:
                log.exception("the inbox processor failed; it tries again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(),
                                       timeout=max(0.0, self._poll_interval - (time.monotonic() - started)))
            self._wake.clear()
