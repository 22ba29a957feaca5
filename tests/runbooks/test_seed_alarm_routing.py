"""The routing table against the seeds' own alarm and metric names (issue 18, defect 7).

Every alert name, CloudWatch metric and monitored metric that the seed runbooks
(/work/shared/seeds/000..004) name is listed with the runbook the library's match rules must
send it to, and the seed text that says so. A name the seeds give no playbook for maps to None:
no rule decides, and the incident-text model's suggestion stands.
"""

from __future__ import annotations

from collections import Counter

import pytest

from bot.config import BUNDLED_CONFIG_PATH, IncidentBotConfig, load_config
from bot.config.severity import Severity
from bot.core.routing import route
from bot.core.signals import AlertSignal, MetricRef, SignalKind, Source
from runbooks.engine.loader import load_library
from runbooks.engine.matching import AlertFacts, match_by_rules

LIBRARY = load_library()


def alarm(name: str) -> AlertFacts:
    return AlertFacts(alarm_name=name)


def metric(name: str) -> AlertFacts:
    return AlertFacts(metric_name=name)


SEED_ROUTES: list[tuple[AlertFacts, str | None]] = [
    # --- 000 multimodal suite: §6.2 alert configuration, §4 playbooks, §6.1 metrics ----------
    (alarm("HighLatency"), "high_latency"),  # "P95 latency > 1000ms for 5 minutes" -> §4.1 High Latency
    (alarm("ElevatedLatency"), "high_latency"),  # "P95 latency > 600ms for 10 minutes"
    (alarm("HighErrorRate"), "high_error_rate"),  # "Error rate > 5% for 2 minutes" -> §4.2 High Error Rate
    (alarm("ElevatedErrorRate"), "high_error_rate"),  # "Error rate > 1% for 5 minutes"
    (alarm("ServiceDown"), "service_outage"),  # up == 0 -> §4.5 Complete Service Outage
    (alarm("ModelDrift"), "model_drift"),  # drift_score > 0.1 -> §4.3 Model Drift Detected
    (metric("inference_latency_seconds"), "high_latency"),  # HighLatency's expression
    (metric("error_count_total"), "high_error_rate"),  # HighErrorRate's numerator
    (metric("inference_requests_total"), "high_error_rate"),  # HighErrorRate's denominator; no other alert
    (metric("drift_score"), "model_drift"),  # ModelDrift's expression
    # A confidence alarm is seed 001's model regression (disable auto-apply first), whatever the
    # metric is called; seed 000 alarms on drift_score for drift, never on confidence.
    (metric("model_confidence_scores"), "model_regression"),
    (metric("prediction_distribution_total"), "model_drift"),  # §4.3 diagnosis groups predictions by class
    # §4.1 "If CPU/Memory high: Scale up immediately"; the CPU metric is a cause to relieve by
    # scaling, not a latency alarm (the defect: high_latency used to claim it).
    (metric("CPUUtilization"), "saturation"),
    (metric("cpu_utilization_percent"), "saturation"),  # §6.1 Resource Metrics
    (metric("memory_used_bytes"), "saturation"),  # §6.1 Resource Metrics
    (metric("gpu_utilization_percent"), "saturation"),  # §6.1 Resource Metrics, "GPU usage (if applicable)"
    (metric("RequestCount"), "saturation"),  # §3.2 Scale Service "When: Traffic increase"
    (alarm("multimodal-api-cpu-high"), "saturation"),  # a CPU alarm by name alone
    (metric("HealthyHostCount"), "service_outage"),  # §4.5 "no healthy tasks" -> emergency scale-up
    (metric("UnHealthyHostCount"), "deployment_failure"),  # §4.4 "health check failures" -> roll back
    # --- 001 model performance regression: "CloudWatch alarms will trigger when" -------------
    (metric("classification_accuracy_7d"), "model_regression"),  # "accuracy drops below 0.90 (7-day)"
    (alarm("ticket-classifier-confidence-low"), "model_regression"),  # "Confidence scores consistently below 0.75"
    (alarm("MeanConfidenceLow"), "model_regression"),
    # --- 002 ML model incident response: "Automated Alerts" ------------------------------------
    (alarm("predictive-maintenance-f1-score-drop"), "model_regression"),  # "F1 score drop > 10%"
    (alarm("predictive-maintenance-precision-drop"), "model_regression"),  # "Precision drop > 15%"
    (alarm("predictive-maintenance-recall-drop"), "model_regression"),  # "Recall drop > 15%"
    (alarm("feature-null-rate"), "data_quality"),  # "Feature null rate > 5%"
    (alarm("feature-drift-detected"), "model_drift"),  # "Feature drift detected" -> Path C: Data Drift
    (alarm("feature-store-unavailable"), "data_quality"),  # "Feature store unavailable: CRITICAL" -> Path B
    (alarm("model-server-down"), "service_outage"),  # "Model server down: CRITICAL"
    (alarm("inference-latency-high"), "high_latency"),  # "Inference latency > 2s"
    (alarm("predictive-maintenance-error-rate"), "high_error_rate"),  # "Error rate > 1%"
    # --- 003 AI system incident response: CLI metrics and "Alert Thresholds" ------------------
    (metric("P95Latency"), "high_latency"),  # AI/Performance; Performance Degradation "P95 latency > 1.5s"
    # "Check for resource constraints ... ConcurrentExecutions ... Scale resources if needed"
    (metric("ConcurrentExecutions"), "saturation"),
    (metric("error_rate"), "high_error_rate"),  # "error_rate > 5%" critical, "> 2%" warning
    (metric("p95_latency"), "high_latency"),  # "p95_latency > 3000ms" critical, "> 1500ms" warning
    (metric("provider_availability"), "service_outage"),  # "< 95%" critical -> Provider Outage, failover
    (metric("cache_hit_rate"), None),  # a warning with no playbook of its own
    (metric("quality_score_decrease"), None),  # info level: no incident playbook
    (metric("cost_increase"), None),  # info level
    (metric("unusual_traffic_pattern"), None),  # info level; load or abuse, the text decides
    # --- 004 scoring engine: Prometheus alerts, hybrid scoring thresholds, error budget --------
    (metric("http_requests_total"), "high_error_rate"),  # HighErrorRate: status=~"5.." over the SLO
    (alarm("scoring-engine-5XX"), "high_error_rate"),  # the same 5xx responses, by alarm name
    (metric("http_request_duration_seconds"), "high_latency"),  # HighLatency: p99 > 150 ms
    (alarm("DriftDetected"), "model_drift"),  # drift_alerts_total > 0
    (metric("drift_alerts_total"), "model_drift"),
    # HighMemoryUsage (process_resident_memory_bytes > 2e9) -> "Memory Leaks", resource SLO < 2 GB
    (alarm("HighMemoryUsage"), "saturation"),
    (metric("process_resident_memory_bytes"), "saturation"),
    # DatabaseSlowQueries -> "High Response Times": "Optimize database queries if DB-bound"
    (alarm("DatabaseSlowQueries"), "high_latency"),
    (metric("database_query_duration_seconds"), "high_latency"),
    (alarm("adapter-failure-rate"), "data_quality"),  # "Adapter failure rate > 5%: CRITICAL", schema change
    (alarm("divergence-flags"), "model_drift"),  # "Divergence flags > 50%" -> "> 30% may indicate model drift"
    (alarm("blending-time"), None),  # "Blending time > 50ms: WARNING" with no playbook of its own
    (alarm("error-budget-fast-burn"), "high_error_rate"),  # the budget is 0.1% of requests failing
    (alarm("scoring-fast-burn"), "high_error_rate"),  # "Fast Burn: > 10x normal rate"
    (alarm("scoring-slow-burn"), "high_error_rate"),  # "Slow Burn: > 2x normal rate"
    (alarm("SLOBurnRate"), "high_error_rate"),
    (alarm("normalization-context-stale"), "data_quality"),  # "Normalization context < 24h old"
]


@pytest.mark.parametrize(("facts", "runbook"), SEED_ROUTES,
                         ids=[f.alarm_name or f.metric_name or "" for f, _ in SEED_ROUTES])
def test_each_alarm_the_seeds_name_goes_to_the_runbook_they_route_it_to(facts: AlertFacts,
                                                                        runbook: str | None) -> None:
    found = match_by_rules(LIBRARY, [facts])
    assert (found.runbook if found else None) == runbook, found


@pytest.mark.parametrize("name", ["CPUUtilization", "MemoryUtilization", "GPUUtilization", "RequestCount"])
def test_a_saturation_metric_is_not_a_latency_alarm_whatever_the_alarm_is_called(name: str) -> None:
    # The metric is what the alarm watches; a name such as "api-slow" must not pull it to latency.
    found = match_by_rules(LIBRARY, [AlertFacts(alarm_name="api-slow-latency", metric_name=name)])
    assert found is not None and found.runbook == "saturation" and found.reason == f"metric {name}"


def test_no_metric_is_claimed_by_two_runbooks() -> None:
    # Ties go to the runbook whose name sorts first: an accident, not a routing decision.
    claims = Counter(name for book in LIBRARY.runbooks.values() for name in book.match.metrics)
    assert [name for name, count in claims.items() if count > 1] == []


def test_the_saturation_runbook_scales_out_first_with_the_seeds_numbers() -> None:
    book = LIBRARY.runbooks["saturation"]
    read_only = ("diagnose", "investigate")
    actions = [step for _, step in book.steps() if step.action is not None and step.action.kind not in read_only]
    first = actions[0]
    assert first.id == "scale-out" and first.action is not None and first.action.scale is not None
    assert first.action.scale.count == 10  # seed 000: --desired-count 10
    text = "\n".join(part for _, step in book.steps() for part in (step.title, step.why, step.how)).lower()
    text += "\n".join(f"{branch.when}\n{branch.then}" for branch in book.branches).lower()
    for phrase in ("cpu < 70% average", "memory < 2 gb per instance",  # seed 004 resource SLOs
                   "resource utilization < 80%",  # seed 003 system health
                   "--max-capacity 20", "profile_resources.py",  # seed 000 §3.2 and §7.2
                   "restart the tasks as a temporary fix", "streaming for large batches",  # seed 004 leaks
                   "provisioned concurrency", "rate_001", "max_batch_size"):
        assert phrase in text, phrase
    assert book.match.text_class is None  # the text model has no class for it


# --- severities: the seeds' alert levels, through route() with no configured rules -------------------
# Critical ("page immediately") is P0; a warning ("Slack notification") is P3, a notice that pages
# nobody (see EscalationConfig.levels_for). Seed 001's confidence alarm is P0: its 15-minute initial
# response is P0's respond_within.

NO_RULES = IncidentBotConfig.from_mapping({})


def cw(name: str, *, metric_name: str = "m", threshold: float | None = None) -> AlertSignal:
    return AlertSignal(source=Source.CLOUDWATCH, delivery_id="d", kind=SignalKind.TRIGGER, event_type="ALARM",
                       occurred_at=None, title=name, alarm_name=name,
                       metric=MetricRef(name=metric_name, threshold=threshold))


SEED_SEVERITIES: list[tuple[AlertSignal, str, Severity]] = [
    # 000 §6.2 critical: P95 > 1 s, errors > 5%, service down
    (cw("HighLatency"), "high_latency", Severity.P0),
    (cw("HighErrorRate"), "high_error_rate", Severity.P0),
    (cw("ServiceDown"), "service_outage", Severity.P0),
    (cw("model-server-down"), "service_outage", Severity.P0),  # seed 002 "Model server down: CRITICAL"
    (cw("multimodal-prod-p95-latency", threshold=1.0), "high_latency", Severity.P0),
    (cw("multimodal-prod-error-rate", threshold=5), "high_error_rate", Severity.P0),
    # 000 §6.2 warnings: "Slack notification"
    (cw("ElevatedLatency"), "high_latency", Severity.P3),
    (cw("ElevatedErrorRate"), "high_error_rate", Severity.P3),
    (cw("ModelDrift"), "model_drift", Severity.P3),
    (cw("multimodal-prod-p95-latency", threshold=0.6), "high_latency", Severity.P3),
    (cw("multimodal-prod-error-rate", threshold=1), "high_error_rate", Severity.P3),
    (cw("drift-monitor", metric_name="drift_score"), "model_drift", Severity.P3),
    # 001: confidence under 0.75 -> model regression, 15 minutes
    (cw("ticket-classifier-confidence-low", threshold=0.75), "model_regression", Severity.P0),
    (cw("classifier-alarm", metric_name="model_confidence_scores"), "model_regression", Severity.P0),
    # 004 critical (page immediately) and warnings (investigate within 4 hours)
    (cw("scoring-HighErrorRate"), "high_error_rate", Severity.P0),
    (cw("scoring-HighLatency"), "high_latency", Severity.P0),
    (cw("DriftDetected"), "model_drift", Severity.P3),
    (cw("HighMemoryUsage"), "saturation", Severity.P3),
    (cw("DatabaseSlowQueries"), "high_latency", Severity.P3),
    (cw("error-budget-fast-burn"), "high_error_rate", Severity.P0),  # "triggers immediate alert"
    (cw("error-budget-slow-burn"), "high_error_rate", Severity.P3),  # "triggers daily summary"
]


@pytest.mark.parametrize(("signal", "runbook", "severity"), SEED_SEVERITIES,
                         ids=[f"{s.alarm_name}-{s.metric.threshold if s.metric else ''}"
                              for s, _, _ in SEED_SEVERITIES])
def test_each_seed_alarm_gets_its_runbook_and_the_seeds_severity(signal: AlertSignal, runbook: str,
                                                                   severity: Severity) -> None:
    # The seeds' levels set the severity; the library's match rules name the runbook.
    routed = route(signal, NO_RULES)
    assert (routed.runbook_class, routed.severity) == (None, severity)
    found = match_by_rules(LIBRARY, [AlertFacts(alarm_name=signal.alarm_name,
                                                metric_name=signal.metric.name if signal.metric else None)])
    assert found is not None and found.runbook == runbook, found


def test_configured_rules_still_come_first() -> None:
    config = IncidentBotConfig.from_mapping(
        {"routing": [{"match": {"alarm": "*confidence*"}, "runbook": "model_drift", "severity": "P2"}]})
    routed = route(cw("ticket-classifier-confidence-low"), config)
    assert (routed.runbook_class, routed.severity) == ("model_drift", Severity.P2)


def test_the_confidence_runbook_disables_auto_apply_first_and_answers_in_15_minutes() -> None:
    book = LIBRARY.runbooks["model_regression"]
    first_action = next(step for _, step in book.steps() if step.action is not None)
    assert first_action.id == "disable-auto-apply" and first_action.action is not None
    assert first_action.action.flag is not None and first_action.action.flag.name == "AUTO_APPLY_ENABLED"
    assert first_action.action.flag.value == "false"
    severity = route(cw("confidence-low"), NO_RULES).severity
    assert NO_RULES.severity_policy(severity).respond_within.total_seconds() == 15 * 60


def test_a_warning_pages_nobody_and_a_critical_alarm_pages_at_once() -> None:
    config = load_config(BUNDLED_CONFIG_PATH)
    assert config.escalation_levels("high_latency", route(cw("ElevatedLatency"), config).severity) == ()
    critical = config.escalation_levels("high_latency", route(cw("HighLatency"), config).severity)
    assert critical and critical[0].after.total_seconds() == 0
