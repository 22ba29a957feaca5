"""Metrics: the service's health beside the alarm's metric, judged against its SLOs.

Seed 000's high-latency steps read CPU, memory and request counts next to the latency alarm, and
its SLOs (P95 under 600 ms, errors under 0.5%, availability over 99.5%) and critical lines (P95
over 1 s, errors over 5%) say how bad it is; seed 004 judges p99 (150 ms) and errors (0.1%).
This reads each metric ``health_metrics`` names over the incident's window, judges the last five
minutes against the objectives (``slo``), and draws one chart set: the alarm's metric, p95, p99,
the 5xx rate, requests, CPU, memory and GPU, a panel each, which `chart-vit` reads one by one.
A metric with no data, or one CloudWatch refuses, is a line; the chart reading is a line too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.config.models import ServiceConfig, ServiceObjectives
from bot.core.ports.cloudwatch import MetricRef, MetricSeries, MetricSource
from bot.core.ports.errors import ProviderError
from bot.core.ports.worker import WorkerClient, WorkerError
from bot.core.text import escape_mrkdwn, truncate
from runbooks.diagnostics.metric_chart import ChartSpec
from runbooks.diagnostics.metric_units import unit_of
from runbooks.diagnostics.results import Verdict
from runbooks.investigations.base import Attachment, Finding, InvestigationKind, Scope, unavailable
from runbooks.investigations.chart_set import Panel, render_panels, tile
from runbooks.investigations.health import (
    GAUGES,
    Check,
    HealthRead,
    Level,
    Role,
    State,
    Traffic,
    aligned,
    checks,
    gauge_text,
    health_reads,
    latency_factor,
    level,
    metric_text,
    objectives,
    per_minute,
    period_for,
    scaled,
    shown,
    slo_data,
    worst_state,
)

CHART_READ_S = 8.0  # chart-vit's whole reading; past it the charts stand unread, the finding does not wait
# Words, not signs: < and > are markup to Slack.
_COMPARISON_WORDS = {"GreaterThanThreshold": "over", "GreaterThanOrEqualToThreshold": "at or over",
                     "LessThanThreshold": "under", "LessThanOrEqualToThreshold": "at or under"}


def chart_model(service: ServiceConfig) -> str | None:
    """The service's chart model (chart-vit), named as Diagnose guesses it from a name."""
    return next((m for m in service.models if "vit" in m or "chart" in m), None)


@dataclass(frozen=True)
class AlarmView:
    """The incident's alarm (or the service's ``metric:``): what it watches, and its series."""

    name: str | None  # the alarm's; None for the service's configured metric
    metric: MetricRef
    series: MetricSeries
    threshold: float | None = None
    comparison: str | None = None
    state: str | None = None
    alarm_at: datetime | None = None


@dataclass
class Reading:
    """What was read, as the finding's lines, panels and data are built from it."""

    judged: dict[str, str] = field(default_factory=dict)  # an SLO's name (p95_ms ...) -> its line
    lines: list[str] = field(default_factory=list)  # requests, CPU, memory, GPU
    problems: list[str] = field(default_factory=list)  # no data, refused reads, an unknown unit
    panels: list[Panel] = field(default_factory=list)
    measured: dict[str, float] = field(default_factory=dict)  # p95_ms, p99_ms, error_rate, availability
    data: dict[str, Any] = field(default_factory=dict)


class MetricsInvestigation:
    kind = InvestigationKind.METRICS
    timeout_s = 30.0

    def __init__(self, metrics: MetricSource, worker: WorkerClient, *, chart_read_s: float = CHART_READ_S) -> None:
        self._metrics = metrics
        self._worker = worker
        self._chart_read_s = chart_read_s

    async def run(self, scope: Scope) -> Finding:
        health = scope.service.health_metrics
        if health is None:
            return unavailable(self.kind, "metrics: no health metrics configured",
                               f"Add `health_metrics:` (cpu, memory, requests, errors, latency) to service "
                               f"{scope.service_name} in the config.")
        period = period_for(scope.start, scope.end)
        start = aligned(scope.start, period)
        reads = health_reads(health, period=period)
        answers, (alarm, alarm_note) = await asyncio.gather(
            asyncio.gather(*(self._series(r.metric, start, scope.end) for r in reads.values())),
            self._alarm(scope, start, period))
        failures = [a for a in answers if isinstance(a, ProviderError)]
        if failures and len(failures) == len(answers):
            raise failures[0]  # CloudWatch itself is down or refusing: the finding says so
        slo, source = objectives(scope.service.slo)
        reading = Reading(data={"window": {"start": start.isoformat(), "end": scope.end.isoformat(),
                                           "period_s": period},
                                "slo": slo_data(slo, source), "metrics": {}})
        if alarm is not None:
            if not alarm.series.empty:
                reading.panels.append(_alarm_panel(alarm, (start, scope.end)))
            reading.data["alarm"] = {"name": alarm.name, "metric": alarm.metric.label, "threshold": alarm.threshold,
                                     "state": alarm.state, "points": len(alarm.series.points)}
        _read(reading, reads, dict(zip(reads, answers, strict=True)), slo, period=period, window=(start, scope.end))
        if alarm_note:
            reading.problems.append(alarm_note)
        found = checks(slo, **reading.measured)
        reading.data["checks"] = {c.name: c.as_data() for c in found}
        reading.data["slo_met"] = all(c.met for c in found) if found else None
        reading.data["panels"] = [p.key for p in reading.panels]
        lines = ([_alarm_line(alarm)] if alarm is not None else []) + _judged_lines(reading, found) + reading.lines
        return await self._finding(scope, reading, found, lines)

    async def _series(self, metric: MetricRef, start: datetime, end: datetime) -> MetricSeries | ProviderError:
        try:
            return await self._metrics.series(metric, start=start, end=end)
        except ProviderError as exc:
            return exc

    async def _alarm(self, scope: Scope, start: datetime, period: int) -> tuple[AlarmView | None, str | None]:
        note = None
        if scope.alarm_name:
            try:
                info = await self._metrics.alarm(scope.alarm_name)
            except ProviderError as exc:
                note = f"Alarm `{escape_mrkdwn(scope.alarm_name)}` could not be read: {escape_mrkdwn(_short(exc))}."
            else:
                read = await self._series(info.metric, start, scope.end)
                if isinstance(read, ProviderError):
                    return None, f"The alarm's metric could not be read: {escape_mrkdwn(_short(read))}."
                at = info.state_changed_at if info.state == "ALARM" else None
                return AlarmView(name=info.name, metric=info.metric, series=read,
                                 threshold=info.threshold, comparison=info.comparison, state=info.state,
                                 alarm_at=at), None
        configured = scope.service.metric
        if configured is None:
            return None, note
        metric = MetricRef(configured.namespace, configured.name, dict(configured.dimensions), period=period)
        read = await self._series(metric, start, scope.end)
        if isinstance(read, ProviderError):
            said = f"The service's metric could not be read: {escape_mrkdwn(_short(read))}."
            return None, f"{note} {said}" if note else said
        return AlarmView(name=None, metric=metric, series=read), note

    async def _finding(self, scope: Scope, reading: Reading, found: Sequence[Check], lines: list[str]) -> Finding:
        pngs = await asyncio.to_thread(render_panels, reading.panels) if reading.panels else []
        model = chart_model(scope.service)
        if pngs and model is not None:
            lines.append(await self._chart_readings(model, reading, pngs))
        # With no objective measured, the charts are still evidence; with no data at all, nothing is.
        verdict = worst_state(found).verdict if found else Verdict.OK if reading.panels else Verdict.UNAVAILABLE
        attachment = None
        if pngs:
            sheet = await asyncio.to_thread(tile, pngs)
            attachment = Attachment(f"metrics-incident-{scope.incident_number}-{scope.service_name}.png", sheet)
        return Finding(kind=self.kind, verdict=verdict, headline=_headline(found, reading),
                       lines=tuple(lines + reading.problems), data=reading.data, attachment=attachment)

    async def _chart_readings(self, model: str, reading: Reading, pngs: Sequence[bytes]) -> str:
        """chart-vit's reading of each panel, as one line; its failures are evidence too, never fatal."""

        async def read(png: bytes) -> tuple[str, float] | WorkerError:
            try:
                prediction = await self._worker.classify_chart(png, model=model)
            except WorkerError as exc:
                return exc
            return prediction.label, prediction.confidence

        try:
            answers = await asyncio.wait_for(asyncio.gather(*(read(p) for p in pngs)), timeout=self._chart_read_s)
        except TimeoutError:
            reading.data["chart_model"] = {"model": model, "error": f"no answer within {self._chart_read_s:g} s"}
            return f"{escape_mrkdwn(model)} did not read the charts within {self._chart_read_s:g} s."
        patterns: dict[str, Any] = {}
        read_ones = []
        failed: list[WorkerError] = []
        for panel, answer in zip(reading.panels, answers, strict=True):
            if isinstance(answer, WorkerError):
                failed.append(answer)
                continue
            label, confidence = answer
            patterns[panel.key] = {"pattern": label, "confidence": round(confidence, 4)}
            read_ones.append(f"{escape_mrkdwn(panel.name)} *{escape_mrkdwn(label)}* ({confidence:.0%})")
        reading.data["charts"] = patterns
        reading.data["chart_model"] = {"model": model, "read": len(patterns), "failed": len(failed)}
        if not read_ones:
            return f"{escape_mrkdwn(model)} could not read the charts: {escape_mrkdwn(truncate(str(failed[0]), 160))}"
        more = f" ({len(failed)} unread: {escape_mrkdwn(truncate(str(failed[0]), 80))})" if failed else ""
        return f"{escape_mrkdwn(model)} reads " + ", ".join(read_ones) + more


def _read(reading: Reading, reads: Mapping[Role, HealthRead], answers: Mapping[Role, MetricSeries | ProviderError],
          slo: ServiceObjectives, *, period: int, window: tuple[datetime, datetime]) -> None:
    """Each metric read into the reading: its panel, its line, its numbers; in the panels' order."""
    series = {role: a for role, a in answers.items() if isinstance(a, MetricSeries)}
    no_data: list[str] = []
    for role, read in reads.items():
        reading.data["metrics"][role.value] = {"metric": read.metric.label, "stat": read.metric.stat}
        answer = answers[role]
        if isinstance(answer, ProviderError):
            reading.problems.append(f"{role.label} ({escape_mrkdwn(metric_text(read.metric))}) could not be read: "
                                    f"{escape_mrkdwn(_short(answer))}.")
        elif answer.empty and role != Role.ERRORS:
            no_data.append(f"{role.label} ({escape_mrkdwn(metric_text(read.metric))})")
    for role in (Role.P95, Role.P99):
        if role in series and not series[role].empty:
            _latency(reading, role, reads[role], series[role], slo, period=period, window=window)
    _traffic(reading, reads, series, slo, period=period, window=window)
    gauges = [_gauge(reading, role, reads[role], series[role], period=period, window=window)
              for role in GAUGES if role in series and not series[role].empty]
    if gauges:
        reading.lines.append(" · ".join(gauges))
    if no_data:
        reading.problems.append("No data in the window for " + ", ".join(no_data) + ".")


def _judged_lines(reading: Reading, found: Sequence[Check]) -> list[str]:
    """The judged numbers first, in the seeds' order (latency, errors, availability), each with its SLO."""
    by_name = {c.name: c for c in found}
    lines = []
    for name in ("p95_ms", "p99_ms", "error_rate", "availability"):
        line = reading.judged.get(name)
        if line is None:
            continue
        check = by_name.get(name)
        if check is not None:
            mark = {State.WITHIN: "", State.NEAR: "⚠️ ", State.OVER: "❗ ", State.CRITICAL: "🔴 "}[check.state]
            line = f"{mark}{line}: {check.text()}"
        lines.append(line)
    return lines


def _latency(reading: Reading, role: Role, read: HealthRead, series: MetricSeries, slo: ServiceObjectives, *,
             period: int, window: tuple[datetime, datetime]) -> None:
    factor = latency_factor(read)
    title = f"{role.label} ({metric_text(read.metric)})"
    if factor is None:  # charted as it is, but a number in an unknown unit is not held against an SLO
        reading.panels.append(Panel(role.value, role.label, series.points, ChartSpec(title=title, window=window)))
        reading.problems.append(f"The unit of {role.label} ({escape_mrkdwn(metric_text(read.metric))}) is unknown, "
                                "so it is not judged: add `unit: Milliseconds` (or Seconds) to its health_metrics "
                                "entry.")
        return
    points = scaled(series.points, factor)
    found = level(points, period=period)
    assert found is not None  # the series is not empty
    objective = slo.p95_ms if role == Role.P95 else slo.p99_ms
    reading.panels.append(Panel(role.value, role.label, points, ChartSpec(
        title=title, unit="ms", threshold=objective, window=window)))
    name = f"{role.value}_ms"
    reading.judged[name] = f"{role.label} *{shown(name, found.now)}* now, peak {shown(name, found.peak)}"
    reading.measured[name] = found.now
    reading.data["metrics"][role.value].update(_level_data(found), unit="ms")


def _traffic(reading: Reading, reads: Mapping[Role, HealthRead], series: Mapping[Role, MetricSeries],
             slo: ServiceObjectives, *, period: int, window: tuple[datetime, datetime]) -> None:
    """Requests, and with the 5xx count the error rate (last five minutes) and availability (the window)."""
    requests = series.get(Role.REQUESTS)
    if requests is None or requests.empty:
        return
    errors = series.get(Role.ERRORS)
    traffic = Traffic.of(requests, errors)
    volume = level(requests.points, period=period)
    assert volume is not None
    reading.data["metrics"][Role.REQUESTS.value].update(_level_data(volume), total=traffic.requests)
    rate = traffic.rate_level(period=period) if errors is not None else None
    window_rate = traffic.error_rate
    if errors is not None and rate is not None and window_rate is not None:
        if errors.empty:
            reading.problems.append(f"No 5xx datapoints in the window ({escape_mrkdwn(errors.metric.name)}): read "
                                    "as none, since a load balancer publishes the count only when there are some.")
        reading.measured.update(error_rate=rate.now, availability=1 - window_rate)
        reading.panels.append(Panel(Role.ERROR_RATE.value, Role.ERROR_RATE.label, scaled(traffic.rate_points(), 100),
                                    ChartSpec(title=f"5xx rate ({errors.metric.name} / {requests.metric.name})",
                                              unit="%", window=window,
                                              threshold=slo.error_rate * 100 if slo.error_rate is not None else None)))
        reading.judged["error_rate"] = (f"5xx rate *{rate.now:.2%}* now, peak {rate.peak:.2%}; "
                                        f"{traffic.errors:,.0f} of {traffic.requests:,.0f} requests in the window")
        reading.judged["availability"] = f"Availability *{1 - window_rate:.2%}* over the window"
        reading.data["metrics"][Role.ERRORS.value].update(total=traffic.errors)
        reading.data["metrics"][Role.ERROR_RATE.value] = {**_level_data(rate), "window": round(window_rate, 6)}
        reading.data["availability"] = round(1 - window_rate, 6)
    reading.panels.append(Panel(Role.REQUESTS.value, Role.REQUESTS.label, requests.points, ChartSpec(
        title=f"requests ({requests.metric.name} {requests.metric.stat} per {period}s)", unit="Count",
        window=window)))
    reading.lines.append(f"Requests {per_minute(volume.now, period):,.0f}/min now, peak "
                         f"{per_minute(volume.peak, period):,.0f}/min; {traffic.requests:,.0f} in the window")


def _gauge(reading: Reading, role: Role, read: HealthRead, series: MetricSeries, *, period: int,
           window: tuple[datetime, datetime]) -> str:
    points: Sequence[tuple[datetime, float]] = series.points
    unit = read.unit
    if unit == "Bytes":  # charted in GiB: an axis of billions reads as noise
        points, unit = scaled(points, 1 / 2**30), "GiB"
    found = level(series.points, period=period)
    assert found is not None
    reading.panels.append(Panel(role.value, role.label, points, ChartSpec(
        title=f"{role.label} ({metric_text(read.metric)})", unit="%" if unit == "Percent" else unit, window=window)))
    reading.data["metrics"][role.value].update(_level_data(found), unit=read.unit or None)
    return f"{role.label} {gauge_text(found.now, read.unit)} now (peak {gauge_text(found.peak, read.unit)})"


def _alarm_panel(alarm: AlarmView, window: tuple[datetime, datetime]) -> Panel:
    metric = alarm.metric
    title = f"alarm {alarm.name}" if alarm.name else "service metric"
    return Panel("alarm", title, alarm.series.points, ChartSpec(
        title=f"{title} ({metric.name} {metric.stat}, {metric.period}s)",
        unit=unit_of(metric.namespace, metric.name), threshold=alarm.threshold, comparison=alarm.comparison,
        alarm_at=alarm.alarm_at, window=window))


def _alarm_line(alarm: AlarmView) -> str:
    points = alarm.series.points
    latest = f", latest {points[-1][1]:.3g}" if points else ", no data in the window"
    side = _COMPARISON_WORDS.get(alarm.comparison or "", "beyond")
    threshold = f" alarms {side} {alarm.threshold:g}" if alarm.threshold is not None else ""
    state = f" is {escape_mrkdwn(alarm.state)}" if alarm.state else ""
    since = f" since {alarm.alarm_at:%H:%M} UTC" if alarm.alarm_at else ""
    who = f"Alarm `{escape_mrkdwn(alarm.name)}`" if alarm.name else "The service's metric"
    return f"{who}{state}{since}: {escape_mrkdwn(metric_text(alarm.metric))}{threshold}{latest}"


def _headline(found: Sequence[Check], reading: Reading) -> str:
    if not reading.panels:
        return "metrics: no data in the window"
    measured = reading.measured
    latency = "p95_ms" if "p95_ms" in measured else "p99_ms" if "p99_ms" in measured else None
    numbers = [f"{name[:3]} {shown(name, measured[name])}" for name in (latency,) if name is not None]
    if "error_rate" in measured:
        numbers.append(f"5xx {shown('error_rate', measured['error_rate'])}")
    summary = f"; {', '.join(numbers)}" if numbers else ""
    if not found:
        return f"metrics: no SLO measured{summary}"
    missed = sum(1 for c in found if not c.met)
    near = sum(1 for c in found if c.state == State.NEAR)
    said = (f"{missed} of {len(found)} SLOs missed" if missed else f"within {len(found)} SLOs") + (
        f", {near} near" if near else "")
    return f"metrics: {said}{summary}"


def _level_data(found: Level) -> dict[str, Any]:
    return {"now": round(found.now, 6), "peak": round(found.peak, 6), "points": found.points,
            "last_at": found.last_at.isoformat()}


def _short(exc: ProviderError) -> str:
    return truncate(" ".join(exc.message.split()), 200)
