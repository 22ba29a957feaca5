"""Routing alerts to a service, runbook class and severity."""

from __future__ import annotations

from bot.config import IncidentBotConfig
from bot.config.severity import Severity
from bot.core.routing import route, service_of
from bot.core.signals import AlertSignal, MetricRef, SignalKind, Source

SEEDS = IncidentBotConfig.from_mapping({
    "services": {"multimodal-api": {"alarms": ["multimodal-prod-*"], "pagerduty_service_ids": ["PSVC001"]}},
    "routing": [
        {"match": {"alarm": "*p95-latency*", "threshold_at_least": 1.0}, "runbook": "high_latency", "severity": "P0"},
        {"match": {"alarm": "*p95-latency*"}, "runbook": "high_latency", "severity": "P2"},
        {"match": {"alarm": "*error-rate*", "threshold_at_least": 5}, "runbook": "high_error_rate", "severity": "P0"},
        {"match": {"metric": "drift_score"}, "runbook": "model_drift", "severity": "P2"},
    ],
})


def alarm(name: str, *, threshold: float | None = None, metric: str = "latency",
          service: str | None = None) -> AlertSignal:
    return AlertSignal(source=Source.CLOUDWATCH, delivery_id="m", kind=SignalKind.TRIGGER, event_type="ALARM",
                       occurred_at=None, title=name, alarm_name=name, service_hint=service,
                       metric=MetricRef(name=metric, threshold=threshold))


def page(priority: str | None, urgency: str = "high", service: str = "PSVC001") -> AlertSignal:
    return AlertSignal(source=Source.PAGERDUTY, delivery_id="w", kind=SignalKind.TRIGGER,
                       event_type="incident.triggered", occurred_at=None, title="t", service_hint=service,
                       service_name_hint="Multimodal API", pagerduty_priority=priority, pagerduty_urgency=urgency)


def test_seed_thresholds_decide_the_severity() -> None:
    assert route(alarm("multimodal-prod-p95-latency", threshold=1.0), SEEDS).severity == Severity.P0
    assert route(alarm("multimodal-prod-p95-latency", threshold=0.6), SEEDS).severity == Severity.P2
    # No configured rule decides a 1% error rate; the seeds' own levels call it a warning: P3, a notice.
    assert route(alarm("multimodal-prod-error-rate", threshold=1), SEEDS).severity == Severity.P3
    critical = route(alarm("multimodal-prod-error-rate", threshold=5), SEEDS)
    assert (critical.severity, critical.runbook_class) == (Severity.P0, "high_error_rate")
    assert route(alarm("x", metric="drift_score"), SEEDS).runbook_class == "model_drift"


def test_services_come_from_config_then_the_source() -> None:
    assert service_of(alarm("multimodal-prod-p95-latency"), SEEDS) == "multimodal-api"
    assert service_of(alarm("other-alarm", service="scoring-engine"), SEEDS) == "scoring-engine"
    assert service_of(alarm("lonely-alarm"), SEEDS) == "lonely-alarm"
    assert service_of(page("P1"), SEEDS) == "multimodal-api"
    assert service_of(page("P1", service="PUNKNOWN"), SEEDS) == "Multimodal API"


def test_pagerduty_priority_then_urgency() -> None:
    defaults = IncidentBotConfig()
    assert route(page("P1"), defaults).severity == Severity.P0
    assert route(page("P4"), defaults).severity == Severity.P3
    assert route(page(None, urgency="high"), defaults).severity == Severity.P1
    assert route(page(None, urgency="low"), defaults).severity == Severity.P3
    assert route(page("Custom"), defaults).severity == Severity.P1
