"""Delivering the outbox: Slack writes and PagerDuty syncs leave the database in order, none dropped.

Rows that share an ordering key (one incident's channel) go strictly one after another; rows of
different incidents go concurrently. A row is claimed with a lease by a conditional UPDATE, so
two bot processes never deliver the same row, and a process that dies mid-write leaves a lease
that runs out and lets the row be tried again.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.clock import Clock
from bot.core.delivery import GiveUp, NotReady, RetryLater
from bot.core.outbox import OutboxState
from bot.core.outbox_delivery import claim_row, finish_row, pending_rows, retry_row_at
from bot.metrics import Metrics
from observability import correlation
from storage.models import OutboxMessage

log = logging.getLogger(__name__)

# Performs one row: (kind, payload, attempt number starting at 1).
Perform = Callable[[str, dict[str, Any], int], Awaitable[None]]


@dataclass(frozen=True)
class DispatchPolicy:
    poll_interval: float = 1.0
    retry_base: float = 1.0
    retry_cap: float = 60.0
    lease: float = 120.0
    batch: int = 500
    concurrency: int = 8
    # A row waiting on a channel that never appears (its creation was refused) gives up here.
    not_ready_attempts: int = 30


class OutboxDispatcher:
    def __init__(
        self, *, sessions: async_sessionmaker[AsyncSession], perform: Perform, clock: Clock,
        metrics: Metrics, policy: DispatchPolicy = DispatchPolicy(),
    ) -> None:
        self._sessions = sessions
        self._perform = perform
        self._clock = clock
        self._metrics = metrics
        self._policy = policy
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._lanes: dict[str, asyncio.Task[int]] = {}  # ordering key -> its lane, while under way
        self._concurrency = asyncio.Semaphore(policy.concurrency)

    def wake(self) -> None:
        """Safe to call from any coroutine of the loop that runs the dispatcher."""
        self._wakeup.set()

    async def run(self) -> None:
        while not self._stopping:
            try:
                self._start_due_lanes(await self._due_lanes())
            except (SQLAlchemyError, OSError) as exc:
                # The database is away (an outage, a failover): one line per pass, not a traceback.
                log.warning("outbox pass skipped, the database is unavailable (%s); trying again shortly",
                            exc.__class__.__name__)
            except Exception:  # the dispatcher must outlive a bad pass
                log.exception("outbox pass failed; trying again shortly")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout=self._policy.poll_interval)
            self._wakeup.clear()
        # Lanes already under way finish their current write; what is left waits for the next start.
        await asyncio.gather(*self._lanes.values(), return_exceptions=True)

    def stop(self) -> None:
        self._stopping = True
        self._wakeup.set()

    async def drain_once(self) -> int:
        """One pass over what is due, waited for; returns how many rows were delivered."""
        tasks = self._start_due_lanes(await self._due_lanes())
        return sum(await asyncio.gather(*tasks))

    def _start_due_lanes(self, lanes: list[list[OutboxMessage]]) -> list[asyncio.Task[int]]:
        """Start each due lane that is not under way already. A lane runs on its own: one paced
        channel (a storm incident's posts, a second apart) never holds back another's first
        write (a new incident's channel), and a lane that ends wakes the loop for what came next."""
        started = []
        for rows in lanes:
            key = rows[0].ordering_key
            if key in self._lanes:
                continue
            task = asyncio.create_task(self._run_lane(rows), name=f"outbox-lane:{key}")
            self._lanes[key] = task
            task.add_done_callback(functools.partial(self._lane_done, key))
            started.append(task)
        return started

    def _lane_done(self, key: str, task: asyncio.Task[int]) -> None:
        self._lanes.pop(key, None)
        self._wakeup.set()
        if not task.cancelled() and (error := task.exception()) is not None:
            # The database went away mid-lane: its rows stay claimed until their lease runs out.
            log.warning("outbox lane %s stopped: %s", key, error.__class__.__name__)

    async def _run_lane(self, rows: list[OutboxMessage]) -> int:
        async with self._concurrency:
            return await self._deliver_lane(rows)

    async def _due_lanes(self) -> list[list[OutboxMessage]]:
        now = self._clock()
        async with self._sessions() as session:
            rows = await pending_rows(session, limit=self._policy.batch)
        lanes: OrderedDict[str, list[OutboxMessage]] = OrderedDict()
        blocked: set[str] = set()
        for row in rows:
            key = row.ordering_key
            if key in blocked:
                continue
            if not _is_available(row, now):
                # Order within a key is strict: a waiting or claimed head holds back the rest.
                blocked.add(key)
                continue
            lanes.setdefault(key, []).append(row)
        return list(lanes.values())

    async def _deliver_lane(self, rows: list[OutboxMessage]) -> int:
        delivered = 0
        for row in rows:
            if not await self._claim(row.id):
                break
            if not await self._deliver(row):
                break
            delivered += 1
        return delivered

    async def _claim(self, row_id: int) -> bool:
        now = self._clock()
        async with self._sessions() as session, session.begin():
            return await claim_row(session, row_id=row_id, now=now, lease=timedelta(seconds=self._policy.lease))

    async def _deliver(self, row: OutboxMessage) -> bool:
        # The row's writes (and their Slack calls) log under the id of the work that queued it.
        with correlation.bound(row.correlation_id or f"outbox:{row.id}"):
            return await self._deliver_bound(row)

    async def _deliver_bound(self, row: OutboxMessage) -> bool:
        attempts = row.attempts + 1
        try:
            await self._perform(row.kind, dict(row.payload), attempts)
        except RetryLater as exc:
            await self._retry_later(row, attempts, str(exc), exc.retry_after)
            return False
        except NotReady as exc:
            if attempts >= self._policy.not_ready_attempts:
                await self._fail(row, str(exc))
                return True
            await self._retry_later(row, attempts, str(exc), None)
            return False
        except GiveUp as exc:
            await self._fail(row, str(exc))
            # A refused write is final; later writes in the lane can still go.
            return True
        except Exception as exc:  # an unexpected bug must not wedge the lane forever
            log.exception("outbox row %s (%s) raised", row.id, row.kind)
            await self._retry_later(row, attempts, f"{exc.__class__.__name__}: {exc}", None)
            return False
        await self._finish(row.id, state=OutboxState.DELIVERED, error=None)
        self._metrics.outbox_delivered.labels(kind=row.kind).inc()
        return True

    async def _retry_later(self, row: OutboxMessage, attempts: int, error: str, retry_after: float | None) -> None:
        delay = min(self._policy.retry_cap, self._policy.retry_base * 2 ** max(0, attempts - 1))
        if retry_after is not None:
            delay = max(delay, retry_after)
        log.warning("Outbox row %s (%s) will be retried in %.1fs: %s", row.id, row.kind, delay, error)
        self._metrics.outbox_retried.labels(kind=row.kind).inc()
        now = self._clock()
        async with self._sessions() as session, session.begin():
            await retry_row_at(session, row_id=row.id, at=now + timedelta(seconds=delay), error=error)

    async def _fail(self, row: OutboxMessage, error: str) -> None:
        log.error("Outbox row %s (%s) was refused for good: %s", row.id, row.kind, error)
        self._metrics.outbox_failed.labels(kind=row.kind).inc()
        await self._finish(row.id, state=OutboxState.FAILED, error=error)

    async def _finish(self, row_id: int, *, state: OutboxState, error: str | None) -> None:
        now = self._clock()
        async with self._sessions() as session, session.begin():
            await finish_row(session, row_id=row_id, state=state, now=now, error=error)


def _is_available(row: OutboxMessage, now: datetime) -> bool:
    if row.next_attempt_at > now:
        return False
    return row.claimed_until is None or row.claimed_until < now
