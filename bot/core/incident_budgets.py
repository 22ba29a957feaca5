"""Each incident's share of its service's error budget, kept as figures for the headline and the
postmortem to show (they never read CloudWatch while rendering).

The budget check refreshes the row of every open incident of a budgeted service, and once more
the row of one resolved since it was last measured, counted to its resolution.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.budget_measure import Measurement
from bot.core.budgets import Budget, Counts, allowed_error_rate, percent, times
from bot.core.lifecycle import OPEN_STATUSES
from bot.core.outbox import enqueue_headline_refresh
from bot.core.ports.budgets import EventBucket
from storage.models import Incident, IncidentBudget

RATE_WINDOW = timedelta(hours=1)  # the burn rate the headline shows


async def record(session: AsyncSession, *, measurements: Sequence[Measurement], now: datetime) -> int:
    """Refresh the figures of the incidents each measurement covers; returns how many changed."""
    changed = 0
    for measurement in measurements:
        oldest = measurement.buckets[0].start if measurement.buckets else measurement.measured_at
        found = (await session.scalars(
            select(Incident).where(
                Incident.service == measurement.service,
                or_(Incident.status.in_([s.value for s in OPEN_STATUSES]), Incident.resolved_at >= oldest),
            )
        )).all()
        for incident in found:
            if await _record_one(session, incident=incident, measurement=measurement):
                changed += 1
                if incident.status in {s.value for s in OPEN_STATUSES}:
                    await enqueue_headline_refresh(session, incident_id=incident.id, now=now)
    return changed


async def _record_one(session: AsyncSession, *, incident: Incident, measurement: Measurement) -> bool:
    row = await session.get(IncidentBudget, incident.id, populate_existing=True)
    ended = incident.resolved_at
    if row is not None and ended is not None and row.measured_at >= ended:
        return False  # counted to its resolution already
    end = min(ended, measurement.measured_at) if ended is not None else measurement.measured_at
    start = impact_start(measurement.buckets, declared_at=incident.declared_at, target=measurement.budget.target)
    spent = measurement.counts(start=start, end=end + timedelta(seconds=1))
    budget = measurement.budget
    figures = {
        "service": measurement.service, "measured_at": measurement.measured_at, "target": budget.target,
        "window_start": budget.start, "window_total": budget.counts.total, "window_bad": budget.counts.bad,
        "incident_total": spent.total, "incident_bad": spent.bad, "burn_rate": measurement.rate_over(RATE_WINDOW),
    }
    if row is None:
        session.add(IncidentBudget(incident_id=incident.id, **figures))
    else:
        for name, value in figures.items():
            setattr(row, name, value)
    await session.flush()
    return True


def impact_start(buckets: Sequence[EventBucket], *, declared_at: datetime, target: float) -> datetime:
    """Where the incident's impact began: back from its declaration over the unbroken run of
    buckets that failed faster than the budget allows. A burn that opened the incident (or an
    alarm that fired late) began before anyone declared anything, and its failures count too."""
    allowed = allowed_error_rate(target)
    start = declared_at
    for bucket in sorted((b for b in buckets if b.start < declared_at), key=lambda b: b.start, reverse=True):
        if bucket.total <= 0 or bucket.bad / bucket.total <= allowed:
            break
        start = bucket.start
    return start


async def for_incident(session: AsyncSession, *, incident_id: int) -> IncidentBudget | None:
    return await session.get(IncidentBudget, incident_id)


def describe(row: IncidentBudget) -> str:
    """The figures in words: "this incident spent 38% of the error budget · 12% left this month"."""
    budget = Budget(target=row.target, start=row.window_start,
                    counts=Counts(total=row.window_total, bad=row.window_bad))
    spent = budget.share(row.incident_bad)
    left = budget.left
    since = "this month" if row.window_start.day == 1 and row.window_start.hour == 0 else "this window"
    left_text = "overspent" if left is not None and left < 0 else f"{percent(left)} left {since}"
    rate = f" · burning at {times(row.burn_rate)}" if row.burn_rate is not None else ""
    return (f"this incident spent {percent(spent)} of the error budget ({row.incident_bad:,.0f} of "
            f"{row.incident_total:,.0f} requests failed) · {left_text}{rate}")
