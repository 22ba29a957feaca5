"""Prometheus metrics. Each app gets its own registry, so two apps in one process don't clash."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.slack_requests = Counter(
            "incident_bot_slack_requests_total", "Slack requests handled, by kind and name.",
            ["kind", "name"], registry=r,
        )
        self.slack_ack_seconds = Histogram(
            "incident_bot_slack_ack_seconds", "Time from receiving a Slack request to acknowledging it.",
            ["kind"], registry=r, buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5),
        )
        self.outbox_delivered = Counter(
            "incident_bot_outbox_delivered_total", "Slack writes delivered from the outbox.", ["kind"], registry=r,
        )
        self.outbox_retried = Counter(
            "incident_bot_outbox_retries_total", "Slack writes put back for a later try.", ["kind"], registry=r,
        )
        self.outbox_failed = Counter(
            "incident_bot_outbox_failed_total", "Slack writes that Slack refused for good.", ["kind"], registry=r,
        )
        self.webhooks = Counter(
            "incident_bot_webhook_deliveries_total", "Webhook deliveries, by source and outcome.",
            ["source", "outcome"], registry=r,
        )
        self.alerts_applied = Counter(
            "incident_bot_inbox_applied_total",
            "Webhook deliveries applied after their ack, by source and what they did (opened, attached, ...).",
            ["source", "outcome"], registry=r,
        )
        self.inbox_backlog = Gauge(
            "incident_bot_inbox_backlog", "Webhook deliveries acknowledged and not yet applied.", registry=r,
        )
        self.inbox_oldest_age = Gauge(
            "incident_bot_inbox_oldest_age_seconds",
            "How long the oldest delivery not yet applied has waited (0 with none waiting).", registry=r,
        )
        self.inbox_batch = Histogram(
            "incident_bot_inbox_append_batch_size", "Deliveries committed together by one inbox append.",
            registry=r, buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
        )
        self.errors = Counter(
            "incident_bot_unexpected_errors_total", "Unexpected errors shown to people with an error id.",
            registry=r,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
