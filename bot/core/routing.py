"""Routing an alert: which service it belongs to, which runbook class, and how severe it is."""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

from bot.config import IncidentBotConfig, RouteMatch, RoutingRule
from bot.config.severity import Severity
from bot.core.signals import AlertSignal, Source

DEFAULT_ALARM_SEVERITY = Severity.P2


def _rule(severity: str, **match: object) -> RoutingRule:
    return RoutingRule.model_validate({"match": match, "severity": severity})


def _rules(severity: str, *alarms: str) -> tuple[RoutingRule, ...]:
    return tuple(_rule(severity, alarm=alarm) for alarm in alarms)


# The seeds' own alert levels, consulted after the configured rules when none of them matched.
# They set the severity only: the runbooks' match rules name the runbook (and say which rule did).
# Critical alerts ("page immediately") are P0; warnings ("Slack notification", seed 000; "non-critical
# warnings", seed 003's P3) are P3, which pages nobody unless `escalation.by_severity.P3` says so.
# Thresholds are in the seeds' units: seconds for latency, percent for error rates.
# The security runbook's alarm names (runbooks/library/security.yaml). Unlike the others these
# name the runbook here, at routing: a security incident must be confidential from its first
# write (a private channel, no title in #incidents), before the runbook's match rules run.
SECURITY_ALARMS = ("*security*", "*Security*", "*unauthorized*", "*Unauthorized*", "*GuardDuty*", "*guardduty*",
                   "*pii*", "*PII*")

SEED_ROUTING: tuple[RoutingRule, ...] = (
    *(RoutingRule.model_validate({"match": {"alarm": alarm}, "runbook": "security", "severity": "P0"})
      for alarm in SECURITY_ALARMS),
    # Seed 001: "Confidence scores consistently below 0.75" is a model regression (the library
    # sends it to model_regression: disable auto-apply first). Its initial response is 15
    # minutes, P0's respond_within.
    *_rules("P0", "*confidence*", "*Confidence*"),
    _rule("P0", metric="model_confidence_scores"),
    # Critical (seed 000 §6.2, seed 002, seed 004): P95 over 1 s, errors over 5%, the service or
    # model server down, a fast error-budget burn ("> 10x ... immediate alert").
    *_rules("P0", "*HighLatency*", "*HighErrorRate*", "*ServiceDown*", "*service-down*", "*ServerDown*",
            "*server-down*", "*fast-burn*", "*FastBurn*"),
    _rule("P0", alarm="*p95-latency*", threshold_at_least=1.0),
    _rule("P0", alarm="*error-rate*", threshold_at_least=5),
    # Warnings: a notice in the incident's channel, no page.
    *_rules("P3", "*ElevatedLatency*", "*p95-latency*", "*DatabaseSlowQueries*", "*ElevatedErrorRate*",
            "*error-rate*", "*slow-burn*", "*SlowBurn*", "*ModelDrift*", "*DriftDetected*", "*HighMemoryUsage*"),
    _rule("P3", metric="drift_score"),
    # A burn-rate alarm that does not say how fast: the error budget is burning.
    *_rules("P1", "*burn-rate*", "*BurnRate*"),
)


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
    """The first matching rule sets the runbook class and severity: the configured rules, then the
    seeds' (``SEED_ROUTING``); the source fills the gaps."""
    service = service_of(signal, config)
    runbook: str | None = None
    severity: Severity | None = None
    for rule in (*config.routing, *SEED_ROUTING):
        if _matches(rule.match, signal, service, text_class):
            runbook, severity = rule.runbook, rule.severity
            break
    if signal.source == Source.PAGERDUTY and (
        severity is None or (signal.pagerduty_priority in config.pagerduty.priority_map)
    ):
        # A priority someone set in PagerDuty says more than a generic routing rule.
        severity = pagerduty_severity(signal, config)
    return Route(service=service, runbook_class=runbook, severity=severity or DEFAULT_ALARM_SEVERITY)
