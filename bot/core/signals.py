"""Alert signals: what every webhook source is parsed into before the core sees it.

PagerDuty, CloudWatch over SNS and EventBridge each have their own envelope; the edge verifies
and parses them into ``AlertSignal``, so grouping, deduplication and the lifecycle are written
once, for all of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any


class Source(StrEnum):
    PAGERDUTY = "pagerduty"
    CLOUDWATCH = "cloudwatch"  # CloudWatch alarm over SNS
    EVENTBRIDGE = "eventbridge"  # CloudWatch alarm state change over EventBridge


class SignalKind(StrEnum):
    TRIGGER = "trigger"  # PD incident.triggered; CloudWatch ALARM
    CLEAR = "clear"  # PD incident.resolved; CloudWatch OK
    ACKNOWLEDGE = "acknowledge"  # PD incident.acknowledged
    UNACKNOWLEDGE = "unacknowledge"  # PD incident.unacknowledged
    REOPEN = "reopen"  # PD incident.reopened
    ESCALATE = "escalate"  # PD incident.escalated
    REASSIGN = "reassign"  # PD incident.reassigned
    PRIORITY = "priority"  # PD incident.priority_updated
    ANNOTATE = "annotate"  # PD incident.annotated (data is an incident_note)
    IGNORED = "ignored"  # any other type: recorded, answered 2xx, nothing else


@dataclass(frozen=True)
class MetricRef:
    """The metric an alarm watches; for metric-math alarms, the one that returns data."""

    namespace: str | None = None
    name: str | None = None
    dimensions: dict[str, str] = field(default_factory=dict)
    statistic: str | None = None
    period: int | None = None
    threshold: float | None = None
    comparison: str | None = None
    expression: str | None = None  # metric-math alarms


@dataclass(frozen=True)
class AlertSignal:
    source: Source
    # The event's own id, covered by the sender's signature: PD event.id, SNS MessageId,
    # EventBridge id. The first dedup key: an attacker cannot change it without the secret.
    delivery_id: str
    kind: SignalKind
    event_type: str  # the source's own word: "incident.triggered", "ALARM", ...
    occurred_at: datetime | None
    # PD X-Webhook-Id: the same on every retry of one delivery but unsigned, so only a second
    # dedup key beside delivery_id, never the one a duplicate hangs on alone. None elsewhere.
    webhook_id: str | None = None
    # How long after occurred_at the sender may still (re)send it. An unknown delivery dated
    # outside it is refused as a replay; None: the source is not held to one.
    replay_window: timedelta | None = None
    # Grouping: the same dedup key is the same alert; the same service groups into one incident.
    dedup_key: str | None = None  # PD incident id (or incident_key); CloudWatch alarm ARN
    title: str = ""  # PD incident title; CloudWatch AlarmName
    description: str = ""  # AlarmDescription / NewStateReason / PD summary
    service_hint: str | None = None  # PD service id; CloudWatch ServiceName dimension
    service_name_hint: str | None = None  # PD service summary (a readable name)
    alarm_name: str | None = None
    alarm_arn: str | None = None
    metric: MetricRef | None = None
    region: str | None = None
    account: str | None = None
    pagerduty_incident_id: str | None = None
    pagerduty_priority: str | None = None  # e.g. "P1"; None when PD sends no priority
    pagerduty_urgency: str | None = None  # "high" / "low"
    html_url: str | None = None
    actor: str | None = None  # who did it at the source (PD agent summary)
    note: str | None = None  # annotation content; who it was escalated/reassigned to
    topic_arn: str | None = None  # SNS topic it came through


def signal_record(signal: AlertSignal) -> dict[str, Any]:
    """The signal as JSON values, kept in the inbox row until it is processed after the ack.

    Made for every delivery in a storm, so plain values (most fields: strings and None) are
    copied as they are, and only the few other kinds are looked up by their type.
    """
    record = dict(signal.__dict__)
    for name, value in record.items():
        if value is not None and type(value) is not str:
            record[name] = _json_value(value)
    return record


def _json_value(value: Any) -> Any:
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, MetricRef):
        return {metric.name: getattr(value, metric.name) for metric in fields(value)}
    return value


def signal_from_record(record: dict[str, Any]) -> AlertSignal:
    """The signal `signal_record` kept. Raises ValueError (or KeyError, TypeError) on a record
    it did not write."""
    values = dict(record)
    values["source"] = Source(values["source"])
    values["kind"] = SignalKind(values["kind"])
    if values.get("occurred_at") is not None:
        values["occurred_at"] = datetime.fromisoformat(values["occurred_at"])
    if values.get("replay_window") is not None:
        values["replay_window"] = timedelta(seconds=float(values["replay_window"]))
    if values.get("metric") is not None:
        values["metric"] = MetricRef(**values["metric"])
    known = {item.name for item in fields(AlertSignal)}
    return AlertSignal(**{name: value for name, value in values.items() if name in known})
