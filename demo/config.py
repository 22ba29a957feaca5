"""The demo's configuration: the seeds' multimodal suite, people with roles, and short timers.

Alice leads (responder and commander), Bob is on call, Evan approves destructive actions, so a
person switching users in the sandbox can show RBAC and two-person approval. Timers run on a
faster clock (``time_scale``), so escalations show within the first minutes of a demo.
"""

from __future__ import annotations

import yaml

from bot.config import IncidentBotConfig
from sandbox.aws_seed import (
    DATA_QUALITY_SERVICE,
    EVIDENCE_BUCKET,
    FEATURE_DIMENSION,
    FEATURE_NAMESPACE,
    FEATURES,
    FRESHNESS_METRIC,
    NULL_RATE_METRIC,
    SCORING_LOG_GROUP,
    SECURITY_KEY_USER,
)
from sandbox.budget_seed import error_budget_yaml

DEMO_PAGERDUTY_SERVICE = "PSVC002"  # the scoring API's PagerDuty service, where the outage scenario pages
DEMO_TIME_SCALE = 30  # a configured minute passes in two seconds
# Seed 003's AI providers, served by the stand-in orchestrator (sandbox/ai_providers.py) that
# `incident-bot demo` starts; its address replaces the placeholder once it listens.
DEMO_PROVIDERS = ("openai", "anthropic", "bedrock")
DEMO_ORCHESTRATOR_PLACEHOLDER = "http://ai-orchestrator.demo.internal"
DEMO_ORCHESTRATOR_TOKEN_ENV = "DEMO_ORCHESTRATOR_ADMIN_TOKEN"
_ORCHESTRATOR = DEMO_ORCHESTRATOR_PLACEHOLDER
_SCORING_BUDGET = error_budget_yaml(indent="    ")

DEMO_CONFIG_YAML = f"""
channels: {{announce: incidents, escalations: incident-escalations}}
oncall: {{users: [U0BOB]}}
services:
  multimodal-api:
    aliases: [document-classifier, image-recognition, multimodal-fusion, ticket-classifier]
    pagerduty_service_ids: [PSVC001]
    alarms: ["multimodal-*"]
    ecs: {{cluster: multimodal-prod, service: multimodal-api, min: 2, max: 20}}
    models: [incident-text, chart-vit, fusion]
    flags:
      prefix: /multimodal/prod/
      # document_classifier_version: seed 000's classifier version, which a runbook step rolls back.
      names: [AUTO_APPLY_ENABLED, max_batch_size, rate_limit_rpm, document_classifier_version]
    metric:
      namespace: AWS/ApplicationELB
      name: TargetResponseTime
      dimensions: {{ServiceName: multimodal-api}}
    logs: {{group: /aws/ecs/multimodal-prod}}  # seeded by sandbox/aws_seed.py with error codes
    load_balancer: {{target_group: multimodal-api}}  # one target of three is down
    # Seed 000's SLOs (the defaults, written out) and its own metrics, seeded by sandbox/aws_seed.py
    # (seed_health) with percentiles published as metrics, which moto can serve; a real ALB's
    # TargetResponseTime would be `latency:`, read as p95 and p99.
    slo: {{p95_ms: 600, error_rate: 0.005, availability: 0.995}}
    health_metrics:
      requests: &health {{namespace: Multimodal/Prod, name: inference_requests_total,
                          dimensions: {{ServiceName: multimodal-api}}}}
      errors: {{<<: *health, name: error_count_total}}
      latency_p95: {{<<: *health, name: inference_latency_p95_seconds}}
      latency_p99: {{<<: *health, name: inference_latency_p99_seconds}}
      cpu: {{<<: *health, name: cpu_utilization_percent}}
      memory: {{<<: *health, name: memory_used_bytes}}
      gpu: {{<<: *health, name: gpu_utilization_percent}}
    # Release 1.6.0 went out as a canary beside 1.5.0; the app tags its metrics with the Version.
    canary: {{dimension: Version, canary: "1.6.0", stable: "1.5.0"}}
    # Seed 004's "same input = same output": these are replayed against incident-text by the Determinism
    # investigation, twice and against what the serving version answered the first time.
    determinism:
      model: incident-text
      tolerance: 1e-6
      inputs:
        - P95 latency 2.4s on the multimodal API for 10 minutes, requests timing out
        - p99 latency above SLO (150ms) on the scoring API during batch processing
        - 5xx error rate above 1% on multimodal-api since the last deploy
        - DOC_001 corrupt document uploads rejected at a high rate
        - IMG_001 image decode failures spiking on the image recognition endpoint
        - RATE_001 rate limit errors from the upstream provider, requests failing
        - drift score 0.31 on the document classifier, confidence sliding all week
        - ticket classifier auto-apply picking wrong categories, F1 down 15%
        - accuracy dropped to 0.82 on the golden set after promoting the new model version
        - new ECS tasks keep stopping, failing ELB health checks during the rollout
        - model artifact fails to load on startup, canary failing
        - no healthy targets behind the load balancer, multimodal API completely down
        - OpenAI provider outage, all requests failing, failover to backup model
        - stolen API key used from an unknown IP against the scoring API
        - PII exposure in model logs, customer emails visible in predictions
        - feature store materialization stale for 6 hours, null rate 12% on sensor features
        - normalization context older than 24h, scores inconsistent for the same company
        - same input producing different scores on the scoring engine after a weights change
        - memory usage above 2GB per instance, tasks killed out of memory
        - database p95 response time above 50ms, connection pool exhausted
  scoring-api:
    pagerduty_service_ids: [{DEMO_PAGERDUTY_SERVICE}]
    flags: {{prefix: /scoring/prod/, names: [weights.yaml]}}  # seed 004's version-locked weights file
    logs: {{group: {SCORING_LOG_GROUP}}}  # seeded with the outage's out-of-memory and rate-limit errors
    alarms: ["scoring-api-*"]
    # Seed 004's error budget (99.9% of requests a month); the fast-burn scenario seeds its counters.
{_SCORING_BUDGET}
    # Seeds 002 and 004: each input feature's freshness and null rate, which sandbox/aws_seed.py seeds in
    # CloudWatch with one stale feature. No feature store or /stats page runs in the demo, so it names
    # neither probe_url nor stats_url.
    data_quality:
      namespace: {FEATURE_NAMESPACE}
      freshness_metric: {FRESHNESS_METRIC}
      null_rate_metric: {NULL_RATE_METRIC}
      feature_dimension: {FEATURE_DIMENSION}
      dimensions: {{ServiceName: {DATA_QUALITY_SERVICE}}}
      features: [{", ".join(feature.name for feature in FEATURES)}]
      max_age: 1h
      max_null_rate: 0.05
  ai-orchestrator:
    alarms: ["ai-orchestrator-*"]
    flags: {{prefix: /orchestrator/prod/, names: [active_model]}}
    # Seed 003's providers: Diagnose checks their health, `/incident failover` moves the traffic to a
    # backup through the orchestrator's admin API, and `failover restore` brings it back 10% → 50% → 100%.
    providers:
      primary: {{name: openai, health_url: "{_ORCHESTRATOR}/providers/openai/health"}}
      backups:
        - {{name: anthropic, health_url: "{_ORCHESTRATOR}/providers/anthropic/health"}}
        - {{name: bedrock, health_url: "{_ORCHESTRATOR}/providers/bedrock/health"}}
      switch:
        http:
          url: "{_ORCHESTRATOR}/admin/routing"
          method: PUT
          body: {{provider: "{{provider}}", share: "{{share}}", fallback: "{{fallback}}"}}
          token_env: {DEMO_ORCHESTRATOR_TOKEN_ENV}
          state_url: "{_ORCHESTRATOR}/admin/routing"
          weights: true
# Scenarios for one service a few minutes apart are separate incidents in the demo.
alerts: {{group_window: 2m, summary_every: 3s}}
routing:
  - match: {{alarm: "*p95-latency*"}}
    runbook: high_latency
    severity: P1
  - match: {{alarm: "*accuracy*"}}
    runbook: model_regression
    severity: P1
# Timers run {DEMO_TIME_SCALE}x faster here, so a person trying the demo sees #incident-escalations fill: the
# 30-minute level pages after one real minute, the hour after two. Durations that must stay humane in
# real time are written scaled up (5h of approval time is ten real minutes).
time_scale: {DEMO_TIME_SCALE}
severities:
  P0: {{update_every: 2h}}
  P1: {{update_every: 2h}}
escalation:
  default:
    - {{after: 0m, notify: {{users: [U0BOB]}}}}
    - {{after: 30m, notify: {{users: [U0MLLEAD1]}}}}
    - {{after: 1h, notify: {{users: [U0ENGMGR1]}}}}
rbac:
  roles:
    responder: {{users: [U0ALICE, U0BOB, U0ONCALL1]}}
    commander: {{users: [U0ALICE, U0MLLEAD1]}}
    approver: {{users: [U0ENGMGR1, U0VPENG01]}}
  actions:
    scale: [responder, commander]
    rollback: [commander]
    flag: [responder, commander]
    stop: [commander]
    failover: [responder, commander]
    security: [responder, commander]  # rotate-secret, deactivate-key: always approved by a second person
    evidence: [responder, commander]
    assign_role: [commander]  # Alice, a commander, hands the incident to Bob
  approval_required: [stop]
  approval_ttl: 5h
actions:
  verify_timeout: 10m
  verify_every: 30s
# Seeds 002 and 003's security incidents: the leaked-key scenario's IAM user, secret and evidence
# bucket are seeded in the local AWS stand-in (sandbox/aws_seed.py, seed_security). The sandbox
# has no compliance officer, so the VP of engineering stands in.
security:
  responders: {{usergroups: [S0SECURTY]}}
  compliance: {{users: [U0VPENG01]}}
  evidence: {{bucket: {EVIDENCE_BUCKET}}}
  rotatable_secrets: ["prod/scoring/*"]
  deactivatable_key_users: [{SECURITY_KEY_USER}]
"""


def demo_config(orchestrator_url: str | None = None) -> IncidentBotConfig:
    """The demo's config; ``orchestrator_url`` is where the stand-in AI orchestrator listens."""
    text = DEMO_CONFIG_YAML
    if orchestrator_url is not None:
        text = text.replace(DEMO_ORCHESTRATOR_PLACEHOLDER, orchestrator_url.rstrip("/"))
    return IncidentBotConfig.from_mapping(yaml.safe_load(text), source="demo")
