"""Routing an alert: which service it belongs to, which runbook class, and how severe it is."""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

from bot.config import IncidentBotConfig, RouteMatch
from bot.config.severity import Severity
from bot.core.signals import AlertSignal, Source

DEFAULT_ALARM_SEVERITY = Severity.P2


@dataclass(frozen=True)
class Route:
    service: str
    runbook_class: str | None
    severity: Severity


def service_of(signal: AlertSignal, config: IncidentBotConfig) -> str:
    """The configured service, else what the source itself names, else the alarm's own name."""
    if signal.source == Source.PAGERDUTY:
        if signal.service_hint and (name := config.service_for_pagerduty(signal.service_hint)):
            return name
        return signal.service_name_hint or signal.service_hint or "pagerduty"
    if signal.alarm_name and (name := config.service_for_alarm(signal.alarm_name)):
        return name
    if signal.service_hint:
        return config.service_name(signal.service_hint) or signal.service_hint
    return signal.alarm_name or signal.title or "unknown"


def _glob(pattern: str | None, value: str | None) -> bool:
    return pattern is None or (value is not None and fnmatchcase(value, pattern))


def _matches(match: RouteMatch, signal: AlertSignal, service: str, text_class: str | None) -> bool:
    metric = signal.metric.name if signal.metric else None
    return (
        _glob(match.alarm, signal.alarm_name or (signal.title if signal.source == Source.PAGERDUTY else None))
        and _glob(match.metric, metric)
        and _glob(match.service, service)
        and _glob(match.pagerduty_service, signal.service_hint if signal.source == Source.PAGERDUTY else None)
        and _glob(match.text_class, text_class)
        and _threshold_at_least(match.threshold_at_least, signal)
    )


def _threshold_at_least(minimum: float | None, signal: AlertSignal) -> bool:
    if minimum is None:
        return True
    threshold = signal.metric.threshold if signal.metric else None
    return threshold is not None and threshold >= minimum


def pagerduty_severity(signal: AlertSignal, config: IncidentBotConfig) -> Severity:
    """PagerDuty's priority through ``priority_map``; without one, its urgency."""
    mapping = config.pagerduty
    if signal.pagerduty_priority and signal.pagerduty_priority in mapping.priority_map:
        return mapping.priority_map[signal.pagerduty_priority]
    if signal.pagerduty_urgency == "low":
        return mapping.urgency_default.low
    return mapping.urgency_default.high


def route(signal: AlertSignal, config: IncidentBotConfig, *, text_class: str | None = None) -> Route:
    """The first matching rule sets the runbook class and severity; the source fills the gaps."""
    service = service_of(signal, config)
    runbook: str | None = None
    severity: Severity | None = None
    for rule in config.routing:
        if _matches(rule.match, signal, service, text_class):
            runbook, severity = rule.runbook, rule.severity
            break
    if signal.source == Source.PAGERDUTY and (
        severity is None or (signal.pagerduty_priority in config.pagerduty.priority_map)
    ):
        # A priority someone set in PagerDuty says more than a generic routing rule.
        severity = pagerduty_severity(signal, config)
    return Route(service=service, runbook_class=runbook, severity=severity or DEFAULT_ALARM_SEVERITY)
