"""The demo's configuration: the seeds' multimodal suite, people with roles, and short timers.

Alice leads (responder and commander), Bob is on call, Evan approves destructive actions, so a
person switching users in the sandbox can show RBAC and two-person approval. Timers run on a
faster clock (``time_scale``), so escalations show within the first minutes of a demo.
"""

from __future__ import annotations

import yaml

from bot.config import IncidentBotConfig

DEMO_PAGERDUTY_SERVICE = "PSVC002"  # the scoring API's PagerDuty service, where the outage scenario pages
DEMO_TIME_SCALE = 30  # a configured minute passes in two seconds

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
  scoring-api:
    pagerduty_service_ids: [{DEMO_PAGERDUTY_SERVICE}]
    flags: {{prefix: /scoring/prod/, names: [weights.yaml]}}  # seed 004's version-locked weights file
  ai-orchestrator:
    alarms: ["ai-orchestrator-*"]
    flags: {{prefix: /orchestrator/prod/, names: [active_model]}}  # seed 003's failover switches it to backup-model
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
    assign_role: [commander]  # Alice, a commander, hands the incident to Bob
  approval_required: [stop]
  approval_ttl: 5h
actions:
  verify_timeout: 10m
  verify_every: 30s
"""


def demo_config() -> IncidentBotConfig:
    return IncidentBotConfig.from_mapping(yaml.safe_load(DEMO_CONFIG_YAML), source="demo")
