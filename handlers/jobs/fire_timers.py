"""The timer job: claim timers that fell due and fire each, once, across every replica.

Each pass claims up to ``batch`` due rows in one transaction (locked with SKIP LOCKED on
PostgreSQL) and fires each in a savepoint of its own, so one firing that fails is retried later
without undoing the others. Passes repeat until one fires nothing, so a backlog left by downtime
is worked off at start-up, oldest first, along with timers the firings themselves made due.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.exc import SQLAlchemyError

from bot.core import timers
from bot.core.escalation import EscalationPolicy, fire
from bot.core.unit_of_work import Core
from observability import correlation

log = logging.getLogger(__name__)

# A firing that raised is tried again after this, up to MAX_ATTEMPTS times.
RETRY_AFTER = timedelta(seconds=30)
MAX_ATTEMPTS = 5


def replica_name() -> str:
    """host:pid, recorded on each fired timer so a two-replica run shows who fired what."""
    return f"{socket.gethostname()}:{os.getpid()}"[:100]


@dataclass(frozen=True)
class PassResult:
    fired: int = 0
    failed: int = 0
    due: int = 0


class TimerJob:
    def __init__(self, *, core: Core, policy: EscalationPolicy, batch: int = 100,
                 fired_by: str | None = None) -> None:
        self._core = core
        self._policy = policy
        self._batch = batch
        self._fired_by = fired_by or replica_name()

    async def run(self) -> int:
        """Fire everything due now; returns how many fired."""
        fired = 0
        while True:
            try:
                result = await self._one_pass()
            except SQLAlchemyError as exc:
                # The database is away; the next tick tries again, and nothing was marked fired.
                log.warning("could not fire timers: %s", exc)
                return fired
            fired += result.fired
            if result.fired or result.failed:
                self._core.outbox_ready()
            # Firings schedule timers of their own (a plan, the next level), some due at once.
            if result.due < self._batch and not result.fired:
                return fired

    async def _one_pass(self) -> PassResult:
        now = self._core.clock()
        fired = failed = 0
        async with self._core.sessions() as session, session.begin():
            due = await timers.due(session, now=now, limit=self._batch)
            for timer in due:
                # Read now: a rolled-back savepoint expires the row, and async sessions can't reload lazily.
                timer_id, attempts, kind = timer.id, timer.attempts, timer.kind
                # What the firing queues (pages, escalation posts) logs under the timer's id.
                correlation.bind(f"timer:{timer_id}")
                try:
                    async with session.begin_nested():
                        if not await timers.claim(session, timer_id=timer_id, now=now, fired_by=self._fired_by):
                            continue  # another replica fired it, or it was cancelled meanwhile
                        await fire(session, timer=timer, policy=self._policy, now=now)
                    fired += 1
                except SQLAlchemyError:
                    raise
                except Exception as exc:  # a bug in one firing must not stall every other timer
                    log.exception("timer %s (%s) failed to fire", timer_id, kind)
                    await timers.record_failure(session, timer_id=timer_id, error=f"{exc.__class__.__name__}: {exc}",
                                                retry_at=now + RETRY_AFTER, give_up=attempts + 1 >= MAX_ATTEMPTS)
                    failed += 1
        correlation.bind(None)
        return PassResult(fired=fired, failed=failed, due=len(due))
