"""A service's health on CloudWatch, as the Metrics and Canary investigations read it.

Which metric each role names (``health_metrics`` in the config) and at which statistic, the
period a window is read at, and the numbers the SLOs are judged on: the seeds' objectives hold
over a 5-minute rolling window, so "now" is the last five minutes of data and "peak" the worst
five minutes in the window. The error rate is 5xx responses over requests, period by period.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot.config.models import DEFAULT_OBJECTIVES, HealthMetricConfig, HealthMetricsConfig, ServiceObjectives
from bot.core.ports.cloudwatch import MetricRef, MetricSeries
from runbooks.diagnostics.metric_units import unit_of
from runbooks.diagnostics.results import Verdict

Points = Sequence[tuple[datetime, float]]

RECENT = timedelta(minutes=5)  # the seeds' SLO window: "5-minute rolling window"
# Read at the first period that keeps a window under this many points (CloudWatch keeps minute
# data for 15 days; an incident open for a day is read at 5 minutes).
PERIODS = (60, 300, 900, 3600)
MAX_POINTS = 720
# The seeds' critical lines (SEED_ROUTING in bot/core/routing.py): P95 over 1 s, errors over 5%.
CRITICAL_P95_MS = 1000.0
CRITICAL_ERROR_RATE = 0.05
NEAR = 0.9  # a value at 90% of its objective or closer is a warning: the line is near
# What a latency unit is in milliseconds; a latency in another unit (or none) is not judged.
TO_MS = {"Seconds": 1000.0, "Milliseconds": 1.0, "Microseconds": 0.001}


class Role(StrEnum):
    P95 = "p95"
    P99 = "p99"
    ERROR_RATE = "error_rate"
    REQUESTS = "requests"
    ERRORS = "errors"
    CPU = "cpu"
    MEMORY = "memory"
    GPU = "gpu"

    @property
    def label(self) -> str:
        return _ROLE_LABELS[self]


_ROLE_LABELS = {Role.P95: "p95 latency", Role.P99: "p99 latency", Role.ERROR_RATE: "5xx rate",
                Role.REQUESTS: "requests", Role.ERRORS: "5xx responses", Role.CPU: "CPU", Role.MEMORY: "memory",
                Role.GPU: "GPU"}
GAUGES = (Role.CPU, Role.MEMORY, Role.GPU)


@dataclass(frozen=True)
class HealthRead:
    """One metric to read for a role, and the unit its values are in ("" when unknown)."""

    role: Role
    metric: MetricRef
    unit: str


def objectives(service_slo: ServiceObjectives | None) -> tuple[ServiceObjectives, str]:
    """The objectives to judge against, and where they come from ("config" or "default")."""
    return (service_slo, "config") if service_slo is not None else (DEFAULT_OBJECTIVES, "default")


def period_for(start: datetime, end: datetime) -> int:
    span = max((end - start).total_seconds(), 60.0)
    return next((p for p in PERIODS if span / p <= MAX_POINTS), PERIODS[-1])


def aligned(start: datetime, period: int) -> datetime:
    """``start`` moved back to a period boundary, so every series of one read shares timestamps."""
    stamp = start.timestamp()
    return start - timedelta(seconds=stamp - math.floor(stamp / period) * period)


def health_reads(health: HealthMetricsConfig, *, period: int, roles: Sequence[Role] = tuple(Role),
                 dimension: tuple[str, str] | None = None) -> dict[Role, HealthRead]:
    """The metric behind each role the config names, in ``roles`` order; with ``dimension``
    (name, value) each is narrowed to one version's traffic (the canary's or the stable one's)."""

    def published(config: HealthMetricConfig | None, default_stat: str) -> tuple[HealthMetricConfig | None, str]:
        return config, (config.stat if config is not None and config.stat else default_stat)

    # ``latency`` itself has no stat (the config refuses one): it is read as CloudWatch's p95 and p99.
    wanted: dict[Role, tuple[HealthMetricConfig | None, str]] = {
        Role.P95: published(health.latency_p95, "Average") if health.latency_p95 else (health.latency, "p95"),
        Role.P99: published(health.latency_p99, "Average") if health.latency_p99 else (health.latency, "p99"),
        Role.REQUESTS: published(health.requests, "Sum"), Role.ERRORS: published(health.errors, "Sum"),
        Role.CPU: published(health.cpu, "Average"), Role.MEMORY: published(health.memory, "Average"),
        Role.GPU: published(health.gpu, "Average"),
    }
    reads: dict[Role, HealthRead] = {}
    for role in roles:
        config, stat = wanted.get(role, (None, ""))
        if config is None:
            continue
        dimensions = dict(config.dimensions)
        if dimension is not None:
            dimensions[dimension[0]] = dimension[1]
        metric = MetricRef(config.namespace, config.name, dimensions, stat=stat, period=period)
        unit = config.unit.value if config.unit is not None else unit_of(config.namespace, config.name)
        reads[role] = HealthRead(role, metric, unit)
    return reads


def metric_text(metric: MetricRef) -> str:
    """What a line names a metric by, e.g. "TargetResponseTime p95" (its dimensions are in the data)."""
    return f"{metric.name} {metric.stat}"


def scaled(points: Points, factor: float) -> tuple[tuple[datetime, float], ...]:
    return tuple((t, v * factor) for t, v in points)


def trailing(points: Points, span: timedelta = RECENT, *, period: int = 60) -> Iterator[Points]:
    """Each point with the points of the ``span`` that ends with it (at least the point itself)."""
    reach = max(span - timedelta(seconds=period), timedelta(0))
    first = 0
    for index, (at, _) in enumerate(points):
        while points[first][0] < at - reach:
            first += 1
        yield points[first:index + 1]


def mean(points: Points) -> float:
    return sum(v for _, v in points) / len(points)


@dataclass(frozen=True)
class Level:
    """A gauge or percentile over the window: the last five minutes' mean and the worst five minutes'."""

    now: float
    peak: float
    points: int
    last_at: datetime


def level(points: Points, *, period: int) -> Level | None:
    if not points:
        return None
    windows = [mean(w) for w in trailing(points, period=period)]
    return Level(now=windows[-1], peak=max(windows), points=len(points), last_at=points[-1][0])


@dataclass(frozen=True)
class Traffic:
    """Requests and 5xx responses per period, matched by timestamp (a period with no 5xx datapoint
    had none: an ALB publishes HTTPCode_Target_5XX_Count only when there are some)."""

    periods: tuple[tuple[datetime, float, float], ...]  # (period start, requests, errors)

    @classmethod
    def of(cls, requests: MetricSeries, errors: MetricSeries | None) -> Traffic:
        failed = dict(errors.points) if errors is not None else {}
        return cls(tuple((at, count, failed.get(at, 0.0)) for at, count in requests.points))

    @property
    def requests(self) -> float:
        return sum(r for _, r, _ in self.periods)

    @property
    def errors(self) -> float:
        return sum(e for _, _, e in self.periods)

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests > 0 else None

    def rate_points(self) -> tuple[tuple[datetime, float], ...]:
        """The 5xx rate of each period that served requests."""
        return tuple((at, e / r) for at, r, e in self.periods if r > 0)

    def rate_level(self, *, period: int) -> Level | None:
        """The 5xx rate over the last five minutes and the worst five minutes, weighted by requests."""
        served = [(at, r, e) for at, r, e in self.periods if r > 0]
        if not served:
            return None
        rates = []
        reach = max(RECENT - timedelta(seconds=period), timedelta(0))
        for index, (at, _, _) in enumerate(served):
            window = [(r, e) for t, r, e in served[: index + 1] if t >= at - reach]
            rates.append(sum(e for _, e in window) / sum(r for r, _ in window))
        return Level(now=rates[-1], peak=max(rates), points=len(served), last_at=served[-1][0])


class State(StrEnum):
    WITHIN = "within"
    NEAR = "near"
    OVER = "over"
    CRITICAL = "critical"

    @property
    def verdict(self) -> Verdict:
        return {State.WITHIN: Verdict.OK, State.NEAR: Verdict.WARNING, State.OVER: Verdict.WARNING,
                State.CRITICAL: Verdict.CRITICAL}[self]


@dataclass(frozen=True)
class Check:
    """One objective judged: ``value`` against ``objective`` (and the seeds' critical line, if any).

    Latencies and the error rate are worse when higher; availability when lower.
    """

    name: str  # the SLO field: p95_ms, p99_ms, error_rate, availability
    value: float
    objective: float
    critical: float | None = None
    lower_is_worse: bool = False

    @property
    def state(self) -> State:
        if self.lower_is_worse:  # judged on what is missing: 99.4% available is 0.6% down
            value, objective, critical = 1 - self.value, 1 - self.objective, None
        else:
            value, objective, critical = self.value, self.objective, self.critical
        if critical is not None and value > critical:
            return State.CRITICAL
        if value > objective:
            return State.OVER
        return State.NEAR if value >= objective * NEAR else State.WITHIN

    @property
    def met(self) -> bool:
        return self.state in (State.WITHIN, State.NEAR)

    def text(self) -> str:
        """"misses the SLO (under 600 ms)": words, not signs, since < and > are markup to Slack."""
        side = "over" if self.lower_is_worse else "under"
        said = {State.WITHIN: "within", State.NEAR: "near", State.OVER: "misses",
                State.CRITICAL: "misses"}[self.state]
        critical = (f", over the critical line {shown(self.name, self.critical)}" if self.state == State.CRITICAL
                    else "")
        return f"{said} the SLO ({side} {shown(self.name, self.objective)}){critical}"

    def as_data(self) -> dict[str, object]:
        return {"value": round(self.value, 6), "objective": self.objective, "critical": self.critical,
                "state": self.state.value, "met": self.met}


def checks(slo: ServiceObjectives, *, p95_ms: float | None = None, p99_ms: float | None = None,
           error_rate: float | None = None, availability: float | None = None) -> list[Check]:
    """The objectives that are both set and measured."""
    found: list[Check] = []
    if slo.p95_ms is not None and p95_ms is not None:
        found.append(Check("p95_ms", p95_ms, slo.p95_ms, CRITICAL_P95_MS))
    if slo.p99_ms is not None and p99_ms is not None:
        found.append(Check("p99_ms", p99_ms, slo.p99_ms))
    if slo.error_rate is not None and error_rate is not None:
        found.append(Check("error_rate", error_rate, slo.error_rate, CRITICAL_ERROR_RATE))
    if slo.availability is not None and availability is not None:
        found.append(Check("availability", availability, slo.availability, lower_is_worse=True))
    return found


def worst_state(found: Sequence[Check]) -> State:
    order = list(State)
    return max((c.state for c in found), key=order.index, default=State.WITHIN)


def shown(name: str, value: float | None) -> str:
    """A number as a responder reads it: 1,420 ms, 0.52%, 99.50%."""
    if value is None:
        return "—"
    if name.endswith("_ms"):
        return f"{value:,.0f} ms" if value >= 10 else f"{value:.1f} ms"
    if name in ("error_rate", "availability"):
        return f"{value:.2%}"
    return f"{value:,.3g}"


def slo_data(slo: ServiceObjectives, source: str) -> dict[str, object]:
    return {**slo.model_dump(exclude_none=True), "source": source}


def gauge_text(value: float, unit: str) -> str:
    if unit == "Percent":
        return f"{value:.0f}%"
    if unit == "Bytes":
        return f"{value / 2**30:.2f} GiB"
    return f"{value:,.3g}" + (f" {unit.lower()}" if unit and unit != "Count" else "")


def latency_factor(read: HealthRead) -> float | None:
    return TO_MS.get(read.unit)


def per_minute(count: float, period: int) -> float:
    return count * 60 / period


def dimensions_text(dimensions: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(dimensions.items()))
