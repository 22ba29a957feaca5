"""What the budget timers do with a measurement (seed 004's burn-rate alerts).

- A fast burn (over 10x) opens an incident for the service at once, at P1, or raises the open
  one to P1 if it is less severe.
- A slow burn (over 2x) is kept for the daily digest.
- The digest posts each budgeted service's budget, its burn over the last hour and day, and the
  slow burns seen since the last digest, to the service's channel.

Everything here runs in the caller's transaction, after the timer was claimed, so it happens
once across replicas.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import IncidentBotConfig
from bot.config.severity import Severity
from bot.core import incident_budgets, incidents
from bot.core.budget_measure import Measurement, budgeted_services
from bot.core.budget_schedule import SLOW_BURNS, note_slow_burn
from bot.core.budgets import Burn, percent, times
from bot.core.lifecycle import OPEN_STATUSES
from bot.core.outbox import OutboxKind, enqueue
from bot.core.timeline import EventKind, record_event
from storage.models import Incident

BUDGET_ACTOR = "error-budget"  # who declares and raises: the budget check, not a person
SOURCE = "error_budget"
# A burn is failing requests: the runbook an error-rate alarm opens (seed 004's error budget alerts).
RUNBOOK = "high_error_rate"


async def open_incident_for(session: AsyncSession, *, service: str) -> Incident | None:
    """The service's newest open incident, if any."""
    return await session.scalar(
        select(Incident).where(Incident.service == service,
                               Incident.status.in_([s.value for s in OPEN_STATUSES]))
        .order_by(Incident.id.desc()).limit(1)
    )


def _burn_text(measurement: Measurement) -> str:
    verdict = measurement.verdict
    rule = verdict.rule
    assert rule is not None
    return (f"Error budget of {measurement.service} burning at {times(verdict.long_rate)} over the last "
            f"{_span(rule.long_window.total_seconds())} ({times(verdict.short_rate)} over the last "
            f"{_span(rule.short_window.total_seconds())}); {percent(measurement.budget.left)} of the budget left")


def _span(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        hours = int(seconds // 3600)
        return "hour" if hours == 1 else f"{hours} hours"
    minutes = max(int(seconds // 60), 1)
    return "minute" if minutes == 1 else f"{minutes} minutes"


async def on_fast_burn(session: AsyncSession, *, measurement: Measurement, severity: Severity,
                       now: datetime) -> Incident:
    """Open an incident at ``severity``, or raise the service's open one to it."""
    text = _burn_text(measurement)
    incident = await open_incident_for(session, service=measurement.service)
    data: dict[str, Any] = {"service": measurement.service, "burn": Burn.FAST.value,
                            "long_rate": measurement.verdict.long_rate, "short_rate": measurement.verdict.short_rate}
    if incident is None:
        title = f"Error budget fast burn on {measurement.service} ({times(measurement.verdict.long_rate)})"
        incident = await incidents.declare(session, title=title, severity=severity, declared_by=BUDGET_ACTOR,
                                           now=now, service=measurement.service, runbook_class=RUNBOOK,
                                           source=SOURCE)
        await record_event(session, incident_id=incident.id, kind=EventKind.BUDGET_BURN, actor=BUDGET_ACTOR,
                           now=now, text=text, data=data)
        return incident
    if Severity.parse(incident.severity).rank > severity.rank:
        await record_event(session, incident_id=incident.id, kind=EventKind.BUDGET_BURN, actor=BUDGET_ACTOR,
                           now=now, text=text, data=data)
        incident = await incidents.set_severity(session, incident_id=incident.id, severity=severity,
                                                actor=BUDGET_ACTOR, now=now)
    return incident


async def check_burns(session: AsyncSession, *, measurements: Sequence[Measurement], config: IncidentBotConfig,
                      now: datetime) -> None:
    """The burn check: act on each service's verdict, then refresh the incidents' budget figures."""
    for measurement in measurements:
        burn = measurement.verdict.burn
        if burn == Burn.FAST:
            await on_fast_burn(session, measurement=measurement, severity=config.error_budgets.fast_burn_severity,
                               now=now)
        elif burn == Burn.SLOW:
            await note_slow_burn(session, service=measurement.service, rate=measurement.verdict.long_rate, now=now)
    await incident_budgets.record(session, measurements=measurements, now=now)


def digest_figures(measurement: Measurement | None, *, service: str, seen: Mapping[str, Any] | None,
                   channel: str) -> dict[str, Any]:
    """One service's digest, as plain figures: the Slack edge renders them."""
    figures: dict[str, Any] = {"service": service, "channel": channel, "seen_slow_burn": dict(seen or {})}
    if measurement is None:
        figures["unread"] = True  # CloudWatch could not be read for it
        return figures
    budget = measurement.budget
    hour, day = measurement.digest_rates()
    figures.update({
        "target": measurement.slo.target, "window_start": budget.start.isoformat(),
        "total": budget.counts.total, "bad": budget.counts.bad, "spent": budget.spent, "left": budget.left,
        "rate_1h": hour, "rate_24h": day, "burn": measurement.verdict.burn.value,
        "long_rate": measurement.verdict.long_rate,
    })
    return figures


async def post_digest(session: AsyncSession, *, measurements: Sequence[Measurement], payload: Mapping[str, Any],
                      config: IncidentBotConfig, now: datetime) -> int:
    """Queue the digest for every budgeted service, one message per service channel."""
    found = {m.service: m for m in measurements}
    seen = payload.get(SLOW_BURNS) or {}
    queued = 0
    for service, slo in budgeted_services(config).items():
        channel = slo.channel or config.channels.announce
        figures = digest_figures(found.get(service), service=service, seen=seen.get(service), channel=channel)
        figures["date"] = now.date().isoformat()
        await enqueue(session, kind=OutboxKind.BUDGET_DIGEST, incident_id=None, ordering_key=f"budget:{channel}",
                      payload=figures, now=now)
        queued += 1
    return queued
