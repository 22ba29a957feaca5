"""Canary: the canary's (or green's) traffic against the SLOs and against the stable version's.

Seed 000 rolls out blue/green with a canary ("monitor canary metrics, first 10% of traffic; if
metrics good, promote") against P95 under 600 ms and errors under 0.5%; seed 004 switches blue to
green and watches for ten minutes. This reads the service's requests, 5xx and latency once per
version (``canary:`` names the dimension that tells them apart, e.g. the ALB target group) over
the minutes the canary served, and decides:

- **hold** while the canary has served fewer than ``min_requests``: too little to judge, unless
  its 5xx responses already break the error objective however the rest go (then roll back);
- **roll back** when it misses an SLO, or is clearly worse than stable: its p95 or p99 more than
  1.2x stable's (and more than 10 ms apart), or its 5xx rate more than stable's plus 0.5 points;
- **promote** otherwise.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.config.models import CanaryConfig, ServiceObjectives
from bot.core.ports.cloudwatch import MetricSeries, MetricSource
from bot.core.ports.errors import ProviderError
from bot.core.text import escape_mrkdwn, truncate
from runbooks.diagnostics.metric_chart import ChartSpec
from runbooks.diagnostics.results import Verdict
from runbooks.investigations.base import Attachment, Finding, InvestigationKind, Scope, unavailable
from runbooks.investigations.chart_set import Panel, render_panels, tile
from runbooks.investigations.health import (
    Check,
    HealthRead,
    Role,
    Traffic,
    aligned,
    checks,
    health_reads,
    latency_factor,
    objectives,
    period_for,
    scaled,
    shown,
    slo_data,
)

# "Clearly worse than stable": a latency ratio, with a floor so 10 ms against 8 ms is not a
# regression, and an error-rate margin in absolute points (0.005 is 0.5 points).
LATENCY_RATIO = 1.2
LATENCY_FLOOR_MS = 10.0
ERROR_MARGIN = 0.005
DEFAULT_MIN_REQUESTS = 100  # when no error-rate objective says how many requests one error needs
ROLES = (Role.REQUESTS, Role.ERRORS, Role.P95, Role.P99)
SHOWN_REASONS = 3  # the rest are in the finding's data


class Decision(StrEnum):
    PROMOTE = "promote"
    HOLD = "hold"
    ROLL_BACK = "roll_back"

    @property
    def verdict(self) -> Verdict:
        return {Decision.PROMOTE: Verdict.OK, Decision.HOLD: Verdict.WARNING,
                Decision.ROLL_BACK: Verdict.CRITICAL}[self]

    @property
    def words(self) -> str:
        return self.value.replace("_", " ")


@dataclass(frozen=True)
class Version:
    """One version's traffic over the periods the canary served."""

    name: str  # "canary" or "stable"
    value: str  # its dimension's value
    requests: float
    errors: float
    p95_ms: float | None
    p99_ms: float | None

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests > 0 else None

    def as_data(self) -> dict[str, Any]:
        rate = self.error_rate
        return {"dimension_value": self.value, "requests": self.requests, "errors": self.errors,
                "error_rate": round(rate, 6) if rate is not None else None,
                "p95_ms": _rounded(self.p95_ms), "p99_ms": _rounded(self.p99_ms)}

    def text(self) -> str:
        rate = self.error_rate
        parts = [f"{self.requests:,.0f} requests", f"5xx {shown('error_rate', rate)}" if rate is not None else "",
                 f"p95 {shown('p95_ms', self.p95_ms)}" if self.p95_ms is not None else "",
                 f"p99 {shown('p99_ms', self.p99_ms)}" if self.p99_ms is not None else ""]
        said = ", ".join(p for p in parts if p)
        return f"{self.name.capitalize()} (`{escape_mrkdwn(truncate(self.value, 80))}`): {said}"


def min_requests(canary: CanaryConfig, slo: ServiceObjectives) -> int:
    """Enough requests that a single 5xx stays within the error objective: 1 / error_rate."""
    if canary.min_requests is not None:
        return canary.min_requests
    return math.ceil(1 / slo.error_rate) if slo.error_rate else DEFAULT_MIN_REQUESTS


def decide(canary: Version, stable: Version | None, slo: ServiceObjectives, *,
           least: int) -> tuple[Decision, list[str], list[Check]]:
    """The decision, the reasons for it (mrkdwn-safe), and the canary's SLO checks."""
    # Availability is not judged apart: over the canary's requests it is 1 - its error rate.
    found = checks(slo, p95_ms=canary.p95_ms, p99_ms=canary.p99_ms, error_rate=canary.error_rate)
    if canary.requests < least:
        # However the rest of min_requests go, this many 5xx already miss the objective.
        if slo.error_rate is not None and canary.errors > slo.error_rate * least:
            return Decision.ROLL_BACK, [f"{canary.errors:,.0f} 5xx in its first {canary.requests:,.0f} requests "
                                        f"already miss the {shown('error_rate', slo.error_rate)} objective over "
                                        f"{least:,} requests"], found
        return Decision.HOLD, [f"the canary served {canary.requests:,.0f} requests, fewer than the {least:,} "
                               "needed to judge it"], found
    reasons = [f"canary {_slo_name(c.name)} {shown(c.name, c.value)} {c.text()}" for c in found if not c.met]
    if stable is not None:
        reasons.extend(_worse_than_stable(canary, stable))
    return (Decision.ROLL_BACK if reasons else Decision.PROMOTE), reasons, found


def _worse_than_stable(canary: Version, stable: Version) -> list[str]:
    reasons = []
    for name, ours, theirs in (("p95", canary.p95_ms, stable.p95_ms), ("p99", canary.p99_ms, stable.p99_ms)):
        if ours is None or theirs is None or theirs <= 0:
            continue
        if ours > theirs * LATENCY_RATIO and ours - theirs > LATENCY_FLOOR_MS:
            reasons.append(f"canary {name} {shown('p95_ms', ours)} is {ours / theirs:.1f}x stable's "
                           f"{shown('p95_ms', theirs)} (limit {LATENCY_RATIO:g}x)")
    ours_rate, theirs_rate = canary.error_rate, stable.error_rate
    if ours_rate is not None and theirs_rate is not None and ours_rate > theirs_rate + ERROR_MARGIN:
        reasons.append(f"canary 5xx {shown('error_rate', ours_rate)} is over stable's "
                       f"{shown('error_rate', theirs_rate)} + {ERROR_MARGIN * 100:g} points")
    return reasons


def _slo_name(name: str) -> str:
    return {"p95_ms": "p95", "p99_ms": "p99", "error_rate": "5xx rate", "availability": "availability"}[name]


class CanaryInvestigation:
    kind = InvestigationKind.CANARY
    timeout_s = 20.0

    def __init__(self, metrics: MetricSource) -> None:
        self._metrics = metrics

    async def run(self, scope: Scope) -> Finding:
        canary, health = scope.service.canary, scope.service.health_metrics
        if canary is None or health is None:
            return unavailable(self.kind, "canary: no canary configured",
                               f"Add `canary:` (dimension, canary, stable) and `health_metrics:` to service "
                               f"{scope.service_name} in the config.")
        period = period_for(scope.start, scope.end)
        start = aligned(scope.start, period)
        versions = {"canary": canary.canary, "stable": canary.stable}
        reads = {name: health_reads(health, period=period, roles=ROLES, dimension=(canary.dimension, value))
                 for name, value in versions.items()}
        jobs = [(name, role, read) for name, by_role in reads.items() for role, read in by_role.items()]
        answers = await asyncio.gather(*(self._series(read, start, scope.end) for _, _, read in jobs))
        failures = [a for a in answers if isinstance(a, ProviderError)]
        if failures and len(failures) == len(answers):
            raise failures[0]
        got: dict[str, dict[Role, MetricSeries]] = {name: {} for name in versions}
        problems = []
        for (name, role, _), answer in zip(jobs, answers, strict=True):
            if isinstance(answer, ProviderError):
                problems.append(f"{name} {role.label} could not be read: "
                                f"{escape_mrkdwn(truncate(' '.join(answer.message.split()), 160))}.")
            else:
                got[name][role] = answer
        slo, source = objectives(scope.service.slo)
        return await self._finding(scope, canary, slo, source, reads, got, problems, period=period, start=start)

    async def _series(self, read: HealthRead, start: datetime, end: datetime) -> MetricSeries | ProviderError:
        try:
            return await self._metrics.series(read.metric, start=start, end=end)
        except ProviderError as exc:
            return exc

    async def _finding(self, scope: Scope, canary: CanaryConfig, slo: ServiceObjectives, source: str,
                       reads: Mapping[str, Mapping[Role, HealthRead]], got: Mapping[str, Mapping[Role, MetricSeries]],
                       problems: list[str], *, period: int, start: datetime) -> Finding:
        served = _served(got["canary"].get(Role.REQUESTS))
        ours = _version("canary", canary.canary, reads["canary"], got["canary"], served)
        theirs = _version("stable", canary.stable, reads["stable"], got["stable"], served)
        if theirs is not None and theirs.requests <= 0:
            theirs = None
        least = min_requests(canary, slo)
        if ours is None:
            ours = Version("canary", canary.canary, 0.0, 0.0, None, None)
        decision, reasons, found = decide(ours, theirs, slo, least=least)
        headline = f"canary: {decision.words}" + _headline_numbers(ours, theirs)
        said = "; ".join(reasons[:SHOWN_REASONS]) + (f"; and {len(reasons) - SHOWN_REASONS} more"
                                                     if len(reasons) > SHOWN_REASONS else "")
        lines = [f"*{decision.words.capitalize()}*: " + (said or "within the SLOs and no worse than stable"),
                 ours.text() if ours.requests > 0 else f"Canary (`{escape_mrkdwn(truncate(canary.canary, 80))}`): "
                                                       "no requests in the window",
                 theirs.text() if theirs is not None else f"Stable (`{escape_mrkdwn(truncate(canary.stable, 80))}`): "
                                                          "no requests over the same minutes; judged on the SLOs alone"]
        if served:
            lines.append(f"Compared over the {len(served) * period / 60:g} minutes the canary served, "
                         f"{min(served):%H:%M}–{max(served):%H:%M} UTC, by `{escape_mrkdwn(canary.dimension)}`.")
        lines.append(f"Rule: roll back on a missed SLO, p95/p99 over {LATENCY_RATIO:g}x stable's or 5xx over "
                     f"stable's + {ERROR_MARGIN * 100:g} points; hold under {least:,} requests; else promote.")
        data: dict[str, Any] = {
            "decision": decision.value, "reasons": reasons, "dimension": canary.dimension,
            "canary": ours.as_data(), "stable": theirs.as_data() if theirs is not None else None,
            "checks": {c.name: c.as_data() for c in found}, "slo": slo_data(slo, source),
            "slo_met": all(c.met for c in found) if found else None,
            "rule": {"latency_ratio": LATENCY_RATIO, "latency_floor_ms": LATENCY_FLOOR_MS,
                     "error_margin": ERROR_MARGIN, "min_requests": least},
            "window": {"start": start.isoformat(), "end": scope.end.isoformat(), "period_s": period,
                       "served_periods": len(served)},
        }
        panels = _panels(got, reads, slo, window=(start, scope.end), canary=canary)
        attachment = None
        if panels:
            sheet = await asyncio.to_thread(lambda: tile(render_panels(panels)))
            attachment = Attachment(f"canary-incident-{scope.incident_number}-{scope.service_name}.png", sheet)
        return Finding(kind=self.kind, verdict=decision.verdict, headline=headline, lines=tuple(lines + problems),
                       data=data, attachment=attachment)


def _served(requests: MetricSeries | None) -> frozenset[datetime]:
    """The periods in which the canary answered requests: both versions are compared over these."""
    return frozenset(at for at, count in requests.points if count > 0) if requests is not None else frozenset()


def _version(name: str, value: str, reads: Mapping[Role, HealthRead], got: Mapping[Role, MetricSeries],
             served: frozenset[datetime]) -> Version | None:
    requests = got.get(Role.REQUESTS)
    if requests is None:
        return None
    traffic = Traffic.of(requests, got.get(Role.ERRORS))
    periods = [(at, r, e) for at, r, e in traffic.periods if at in served]
    weights = {at: r for at, r, _ in periods}
    return Version(name, value, requests=sum(r for _, r, _ in periods), errors=sum(e for _, _, e in periods),
                   p95_ms=_weighted_ms(reads.get(Role.P95), got.get(Role.P95), weights),
                   p99_ms=_weighted_ms(reads.get(Role.P99), got.get(Role.P99), weights))


def _weighted_ms(read: HealthRead | None, series: MetricSeries | None,
                 weights: Mapping[datetime, float]) -> float | None:
    """A percentile over the served periods: each period's value weighted by its requests (an
    approximation: CloudWatch's percentile of the whole window would need the raw samples)."""
    if read is None or series is None:
        return None
    factor = latency_factor(read)
    if factor is None:
        return None
    pairs = [(value * factor, weights[at]) for at, value in series.points if weights.get(at, 0) > 0]
    total = sum(w for _, w in pairs)
    return sum(v * w for v, w in pairs) / total if total > 0 else None


def _panels(got: Mapping[str, Mapping[Role, MetricSeries]], reads: Mapping[str, Mapping[Role, HealthRead]],
            slo: ServiceObjectives, *, window: tuple[datetime, datetime], canary: CanaryConfig) -> list[Panel]:
    """Canary on the left, stable on the right: p95 (or p99), the 5xx rate, requests."""
    latency = Role.P95 if Role.P95 in reads["canary"] else Role.P99
    objective = slo.p95_ms if latency == Role.P95 else slo.p99_ms
    panels: list[Panel] = []
    rows: Sequence[str] = ("latency", "error_rate", "requests")
    for row in rows:
        for name, value in (("canary", canary.canary), ("stable", canary.stable)):
            series, read = got[name], reads[name]
            label = f"{name} {_short_value(value)}"
            if row == "latency" and latency in series and (factor := latency_factor(read[latency])) is not None:
                panels.append(Panel(f"{name}_{latency.value}", f"{name} {latency.label}",
                                    scaled(series[latency].points, factor),
                                    ChartSpec(title=f"{label}: {latency.label}", unit="ms", threshold=objective,
                                              window=window)))
            elif row == "error_rate" and Role.REQUESTS in series:
                traffic = Traffic.of(series[Role.REQUESTS], series.get(Role.ERRORS))
                panels.append(Panel(f"{name}_error_rate", f"{name} 5xx rate", scaled(traffic.rate_points(), 100),
                                    ChartSpec(title=f"{label}: 5xx rate", unit="%", window=window,
                                              threshold=slo.error_rate * 100 if slo.error_rate else None)))
            elif row == "requests" and Role.REQUESTS in series:
                panels.append(Panel(f"{name}_requests", f"{name} requests", series[Role.REQUESTS].points,
                                    ChartSpec(title=f"{label}: requests", unit="Count", window=window)))
    return panels if any(p.points for p in panels) else []


def _short_value(value: str) -> str:
    """A target group's name from its id (targetgroup/multimodal-green/0123abcd), else the value."""
    parts = value.split("/")
    return truncate(parts[1] if len(parts) == 3 and parts[0] == "targetgroup" else value, 40)


def _headline_numbers(canary: Version, stable: Version | None) -> str:
    parts = []
    if canary.p95_ms is not None:
        against = f" vs {shown('p95_ms', stable.p95_ms)}" if stable is not None and stable.p95_ms is not None else ""
        parts.append(f"p95 {shown('p95_ms', canary.p95_ms)}{against}")
    rate = canary.error_rate
    if rate is not None:
        theirs = stable.error_rate if stable is not None else None
        parts.append(f"5xx {shown('error_rate', rate)}" + (f" vs {shown('error_rate', theirs)}" if theirs is not None
                                                           else ""))
    return f" ({'; '.join(parts)})" if parts else ""


def _rounded(value: float | None) -> float | None:
    return round(value, 3) if value is not None else None
