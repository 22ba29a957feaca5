"""The error-budget timers: the burn check and the daily digest, rows of no incident.

Every replica schedules the next of each on every tick, under a ``unique_key`` that names its
due time (``burn_check:2026-12-07T12:35:00+00:00``, ``budget_digest:2026-12-08``), so all of
them agree on the row and the unique index lets exactly one insert it. The budget job claims
them here, not in `bot.core.timers.due` (which takes incident timers only), with the same
conditional update, so each fires once across replicas.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.timers import TimerKind, TimerState
from storage.models import Timer

BUDGET_TIMERS = (TimerKind.BURN_CHECK, TimerKind.BUDGET_DIGEST)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SLOW_BURNS = "slow_burns"  # the digest's payload: what the burn checks saw since the last digest


def next_check_at(now: datetime, every: timedelta) -> datetime:
    """The next point of a grid of ``every`` from the epoch: the same on every replica."""
    step = max(every, timedelta(seconds=1))
    passed = (now - _EPOCH) // step
    return _EPOCH + (passed + 1) * step


def next_digest_at(now: datetime, at: time) -> datetime:
    """Today's digest time (UTC) if still ahead, else tomorrow's."""
    today = now.astimezone(UTC).replace(hour=at.hour, minute=at.minute, second=0, microsecond=0)
    return today if today > now else today + timedelta(days=1)


def burn_check_key(due_at: datetime) -> str:
    return f"{TimerKind.BURN_CHECK.value}:{due_at.astimezone(UTC).isoformat()}"


def digest_key(due_at: datetime) -> str:
    return f"{TimerKind.BUDGET_DIGEST.value}:{due_at.astimezone(UTC).date().isoformat()}"


async def _schedule_once(session: AsyncSession, *, kind: TimerKind, key: str, due_at: datetime,
                         now: datetime) -> bool:
    """Insert the timer unless a replica already did (then False)."""
    if await session.scalar(select(Timer.id).where(Timer.unique_key == key)) is not None:
        return False
    try:
        async with session.begin_nested():
            session.add(Timer(incident_id=None, kind=kind.value, due_at=due_at, unique_key=key,
                              state=TimerState.PENDING.value, payload={}, created_at=now, attempts=0))
            await session.flush()
    except IntegrityError:
        return False
    return True


async def ensure_scheduled(session: AsyncSession, *, now: datetime, check_every: timedelta,
                           digest_at: time) -> None:
    """The next burn check and the next digest exist (inserted by whichever replica came first)."""
    check_due = next_check_at(now, check_every)
    await _schedule_once(session, kind=TimerKind.BURN_CHECK, key=burn_check_key(check_due), due_at=check_due,
                         now=now)
    digest_due = next_digest_at(now, digest_at)
    await _schedule_once(session, kind=TimerKind.BUDGET_DIGEST, key=digest_key(digest_due), due_at=digest_due,
                         now=now)


async def due(session: AsyncSession, *, now: datetime) -> Sequence[Timer]:
    """Budget timers that fell due, oldest first (not locked: the claim decides who fires)."""
    return (await session.scalars(
        select(Timer)
        .where(Timer.incident_id.is_(None), Timer.state == TimerState.PENDING.value, Timer.due_at <= now,
               Timer.kind.in_([kind.value for kind in BUDGET_TIMERS]))
        .order_by(Timer.due_at, Timer.id)
        .execution_options(populate_existing=True)
    )).all()


async def note_slow_burn(session: AsyncSession, *, service: str, rate: float | None, now: datetime) -> None:
    """Keep a slow burn for the next digest: when it was first seen, and its peak rate."""
    digest = await session.scalar(
        select(Timer).where(Timer.incident_id.is_(None), Timer.kind == TimerKind.BUDGET_DIGEST.value,
                            Timer.state == TimerState.PENDING.value)
        .order_by(Timer.due_at, Timer.id).limit(1).execution_options(populate_existing=True)
    )
    if digest is None:
        return
    payload: dict[str, Any] = dict(digest.payload or {})
    burns: dict[str, Any] = dict(payload.get(SLOW_BURNS) or {})
    seen = dict(burns.get(service) or {"since": now.isoformat(), "peak": 0.0})
    seen["peak"] = max(float(seen.get("peak") or 0.0), rate or 0.0)
    seen["last"] = now.isoformat()
    burns[service] = seen
    payload[SLOW_BURNS] = burns
    digest.payload = payload  # a new dict, so the JSON column is seen as changed
    await session.flush()
