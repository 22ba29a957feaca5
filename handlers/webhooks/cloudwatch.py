"""CloudWatch alarms, over SNS or EventBridge, parsed into `AlertSignal`s.

The two deliveries carry the same facts in different shapes: SNS wraps the alarm JSON (with
PascalCase keys and dimensions as a ``[{name, value}]`` list) in its envelope's ``Message``;
EventBridge sends a "CloudWatch Alarm State Change" event (camelCase keys, dimensions as a map).
Both map the same way: ALARM triggers, OK clears, INSUFFICIENT_DATA (and anything that is not an
alarm) is recorded as ignored.

Payloads are untrusted even after their signature checks out (an allowed topic may carry other
messages), so every field is read defensively: a wrong type reads as absent, strings are capped
and cleaned, and unparseable timestamps are ``None``. Only ``WebhookError`` subclasses escape.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.core.json_values import finite_number
from bot.core.signals import AlertSignal, MetricRef, SignalKind, Source
from handlers.payloads import TooDeeplyNested, loads_bounded, object_or_empty
from handlers.webhooks.bodies import load_json_body
from handlers.webhooks.errors import BadSignature, MalformedPayload
from handlers.webhooks.sns_verify import (
    NOTIFICATION,
    SUBSCRIPTION_CONFIRMATION,
    UNSUBSCRIBE_CONFIRMATION,
    validate_sns_message,
)

ALARM_STATE_CHANGE = "CloudWatch Alarm State Change"
EVENTBRIDGE_SOURCE = "aws.cloudwatch"

TITLE_MAX = 1_000
TEXT_MAX = 4_000
FIELD_MAX = 1_024  # names, ARNs, ids, dimension names and values
DELIVERY_ID_MAX = 256
MAX_DIMENSIONS = 30  # CloudWatch's own limit per metric
MAX_METRICS = 50  # more than CloudWatch allows in one metric-math alarm

_KIND_BY_STATE = {"ALARM": SignalKind.TRIGGER, "OK": SignalKind.CLEAR,
                  "INSUFFICIENT_DATA": SignalKind.IGNORED}
# EventBridge alarm events carry no ComparisonOperator; CloudWatch's state reason names it
# ("... was [not] greater than or equal to the threshold (50.0) ...").
_COMPARISON_BY_RELATION = {
    ("greater", False): "GreaterThanThreshold", ("greater", True): "GreaterThanOrEqualToThreshold",
    ("less", False): "LessThanThreshold", ("less", True): "LessThanOrEqualToThreshold",
}
_RELATION = re.compile(r"\b(greater|less) than( or equal to)? the threshold\b")
REASON_DATA_MAX = 64 * 1024


def parse_sns_envelope(body: bytes) -> dict[str, Any]:
    """The SNS message in an HTTP body, with the string fields its ``Type`` requires."""
    return validate_sns_message(load_json_body(body))


def check_eventbridge_token(header_value: str | None, expected: str) -> None:
    """Compare the ``X-Incident-Bot-Token`` header with ``EVENTBRIDGE_TOKEN`` in constant time."""
    if not expected:
        raise BadSignature("EventBridge token not configured")
    if not header_value:
        raise BadSignature("missing token")
    given = header_value.encode("utf-8", "surrogatepass")
    if not hmac.compare_digest(given, expected.encode("utf-8", "surrogatepass")):
        raise BadSignature("wrong token")


# --- reading untrusted fields -----------------------------------------------------------------

def _text(value: object, limit: int = FIELD_MAX) -> str | None:
    if not isinstance(value, str):
        return None
    # NUL is refused by PostgreSQL text and lone surrogates by every encoder downstream.
    return value[:limit].replace("\x00", "").encode("utf-8", "replace").decode("utf-8")



def _integer(value: object) -> int | None:
    number = finite_number(value)
    if number is None or not number.is_integer():
        return None
    return int(number)


def _list(value: object, limit: int) -> list[Any]:
    return value[:limit] if isinstance(value, list) else []


def _timestamp(value: object) -> datetime | None:
    """An aware UTC datetime from ISO 8601 ("2015-06-03T17:43:27.123+0000", "...Z"), else None."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _delivery_id(value: object) -> str:
    # The delivery id is the deduplication key in storage, so it must be exact: refuse, never trim.
    if not isinstance(value, str) or not value or len(value) > DELIVERY_ID_MAX or _text(value) != value:
        raise MalformedPayload("missing or invalid delivery id")
    return value


def _join(*parts: str | None) -> str:
    return "\n\n".join(part for part in parts if part)[:TEXT_MAX]


def _dimension_value(value: object) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return str(value)
    return _text(value)


def _dimensions_from_list(raw: object) -> dict[str, str]:
    """SNS alarm JSON: ``[{"value": ..., "name": ...}]``."""
    dimensions: dict[str, str] = {}
    for item in _list(raw, MAX_DIMENSIONS):
        item = object_or_empty(item)
        name = _text(item.get("name", item.get("Name")))
        value = _dimension_value(item.get("value", item.get("Value")))
        if name and value is not None:
            dimensions[name] = value
    return dimensions


def _dimensions_from_map(raw: object) -> dict[str, str]:
    """EventBridge alarm events: ``{"Name": "value"}``."""
    dimensions: dict[str, str] = {}
    for key, value in list(object_or_empty(raw).items())[:MAX_DIMENSIONS]:
        name, text = _text(key), _dimension_value(value)
        if name and text is not None:
            dimensions[name] = text
    return dimensions


# --- metrics ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class _MetricKeys:
    """The same metric-math structure, spelled differently by SNS and by EventBridge."""

    return_data: str
    metric_stat: str
    metric: str
    name: str
    namespace: str
    dimensions: str
    stat: str
    period: str
    expression: str
    read_dimensions: Callable[[object], dict[str, str]]


_SNS_KEYS = _MetricKeys("ReturnData", "MetricStat", "Metric", "MetricName", "Namespace", "Dimensions",
                        "Stat", "Period", "Expression", _dimensions_from_list)
_EVENTBRIDGE_KEYS = _MetricKeys("returnData", "metricStat", "metric", "name", "namespace", "dimensions",
                                "stat", "period", "expression", _dimensions_from_map)


def _metric_from_queries(queries: list[Any], keys: _MetricKeys, *, threshold: float | None,
                         comparison: str | None) -> MetricRef:
    """The query that returns data (a metric or an expression); a stat's metric describes it.

    For an expression, namespace, name and dimensions come from the first query with a metric,
    so that routing by metric or by ``ServiceName`` still works for metric-math alarms.
    """
    entries = [entry for entry in queries if isinstance(entry, dict)]
    returned = next((entry for entry in entries if entry.get(keys.return_data) is True),
                    entries[0] if entries else {})
    first_stat = next((object_or_empty(e.get(keys.metric_stat)) for e in entries
                       if isinstance(e.get(keys.metric_stat), dict)), {})
    own_stat = returned.get(keys.metric_stat)
    stat = own_stat if isinstance(own_stat, dict) else first_stat
    metric = object_or_empty(stat.get(keys.metric))
    return MetricRef(
        namespace=_text(metric.get(keys.namespace)),
        name=_text(metric.get(keys.name)),
        dimensions=keys.read_dimensions(metric.get(keys.dimensions)),
        statistic=_text(stat.get(keys.stat)),
        period=_integer(stat.get(keys.period)) or _integer(returned.get(keys.period)),
        threshold=threshold,
        comparison=comparison,
        expression=None if isinstance(own_stat, dict) else _text(returned.get(keys.expression), TEXT_MAX),
    )


def _sns_metric(trigger: dict[str, Any]) -> MetricRef | None:
    if not trigger:
        return None
    threshold = finite_number(trigger.get("Threshold"))
    comparison = _text(trigger.get("ComparisonOperator"))
    queries = _list(trigger.get("Metrics"), MAX_METRICS)
    if queries:
        return _metric_from_queries(queries, _SNS_KEYS, threshold=threshold, comparison=comparison)
    return MetricRef(
        namespace=_text(trigger.get("Namespace")),
        name=_text(trigger.get("MetricName")),
        dimensions=_dimensions_from_list(trigger.get("Dimensions")),
        # Percentile alarms carry ExtendedStatistic ("p95") instead of Statistic.
        statistic=_text(trigger.get("Statistic")) or _text(trigger.get("ExtendedStatistic")),
        period=_integer(trigger.get("Period")),
        threshold=threshold,
        comparison=comparison,
    )


def _service_hint(metric: MetricRef | None, queries: list[Any], keys: _MetricKeys) -> str | None:
    """The ``ServiceName`` dimension: of the alarm's metric, else of any metric it computes from."""
    if metric is not None and metric.dimensions.get("ServiceName"):
        return metric.dimensions["ServiceName"]
    for entry in queries:
        stat_metric = object_or_empty(object_or_empty(object_or_empty(entry).get(keys.metric_stat)).get(keys.metric))
        service = keys.read_dimensions(stat_metric.get(keys.dimensions)).get("ServiceName")
        if service:
            return service
    return None


def _arn_part(arn: str | None, index: int) -> str | None:
    """A field of "arn:aws:cloudwatch:<region>:<account>:alarm:<name>"."""
    parts = (arn or "").split(":", 6)
    if len(parts) < 6 or parts[0] != "arn":
        return None
    return parts[index] or None


# --- CloudWatch over SNS ----------------------------------------------------------------------

def _alarm_json(message: object) -> dict[str, Any] | None:
    if not isinstance(message, str):
        return None
    try:
        alarm = loads_bounded(message)
    except TooDeeplyNested as exc:
        raise MalformedPayload(f"Message: {exc}") from exc
    except ValueError:
        return None
    if not isinstance(alarm, dict):
        return None
    if not _text(alarm.get("AlarmName")) or not _text(alarm.get("NewStateValue")):
        return None
    return alarm


def alarm_signal_from_sns(envelope: dict[str, Any]) -> AlertSignal:
    """A verified SNS message as a signal.

    An alarm Notification triggers or clears; any other Notification, and the (already handled)
    subscription confirmations, are IGNORED signals, recorded and answered 2xx.
    """
    kind = envelope.get("Type") if isinstance(envelope, dict) else None
    if kind not in (NOTIFICATION, SUBSCRIPTION_CONFIRMATION, UNSUBSCRIBE_CONFIRMATION):
        raise MalformedPayload("not an SNS message")
    delivery_id = _delivery_id(envelope.get("MessageId"))
    topic_arn = _text(envelope.get("TopicArn"))
    sent_at = _timestamp(envelope.get("Timestamp"))
    if kind != NOTIFICATION:
        return AlertSignal(source=Source.CLOUDWATCH, delivery_id=delivery_id, kind=SignalKind.IGNORED,
                           event_type=kind, occurred_at=sent_at, topic_arn=topic_arn)
    alarm = _alarm_json(envelope.get("Message"))
    if alarm is None:
        return AlertSignal(
            source=Source.CLOUDWATCH, delivery_id=delivery_id, kind=SignalKind.IGNORED,
            event_type=kind, occurred_at=sent_at,
            title=_text(envelope.get("Subject"), TITLE_MAX) or "",
            description=_text(envelope.get("Message"), TEXT_MAX) or "", topic_arn=topic_arn,
        )
    trigger = object_or_empty(alarm.get("Trigger"))
    metric = _sns_metric(trigger)
    state = _text(alarm.get("NewStateValue"), 64) or ""
    name = _text(alarm.get("AlarmName"), TITLE_MAX) or ""
    arn = _text(alarm.get("AlarmArn"))
    return AlertSignal(
        source=Source.CLOUDWATCH, delivery_id=delivery_id,
        kind=_KIND_BY_STATE.get(state, SignalKind.IGNORED), event_type=state,
        occurred_at=_timestamp(alarm.get("StateChangeTime")) or sent_at,
        dedup_key=arn or f"alarm:{name}", title=name,
        description=_join(_text(alarm.get("NewStateReason"), TEXT_MAX),
                          _text(alarm.get("AlarmDescription"), TEXT_MAX)),
        service_hint=_service_hint(metric, _list(trigger.get("Metrics"), MAX_METRICS), _SNS_KEYS),
        alarm_name=name, alarm_arn=arn, metric=metric,
        # The ARN has the region code ("eu-west-1"); Region is a display name ("EU - Ireland").
        region=_arn_part(arn, 3) or _text(alarm.get("Region")),
        account=_text(alarm.get("AWSAccountId")) or _arn_part(arn, 4),
        topic_arn=topic_arn,
    )


# --- CloudWatch over EventBridge --------------------------------------------------------------

def _threshold_from_reason_data(raw: object) -> float | None:
    """``state.reasonData`` is a JSON string of its own; its ``threshold`` is the alarm's.

    It is optional evidence (anomaly-detection and composite alarms have no fixed threshold),
    so anything unreadable reads as absent rather than refusing the alarm.
    """
    if not isinstance(raw, str) or len(raw) > REASON_DATA_MAX:
        return None
    try:
        data = loads_bounded(raw)
    except (TooDeeplyNested, ValueError):
        return None
    return finite_number(data.get("threshold")) if isinstance(data, dict) else None


def _comparison_from_reason(reason: str | None) -> str | None:
    found = _RELATION.search(reason or "")
    return _COMPARISON_BY_RELATION[(found.group(1), bool(found.group(2)))] if found else None


def alarm_signal_from_eventbridge(body: bytes) -> AlertSignal:
    """An EventBridge delivery as a signal; events other than alarm state changes are IGNORED."""
    event = load_json_body(body)
    if not isinstance(event, dict):
        raise MalformedPayload("EventBridge event must be a JSON object")
    delivery_id = _delivery_id(event.get("id"))
    detail_type = _text(event.get("detail-type"), 256)
    sent_at = _timestamp(event.get("time"))
    region, account = _text(event.get("region")), _text(event.get("account"))
    if detail_type != ALARM_STATE_CHANGE or event.get("source") != EVENTBRIDGE_SOURCE:
        return AlertSignal(source=Source.EVENTBRIDGE, delivery_id=delivery_id, kind=SignalKind.IGNORED,
                           event_type=detail_type or "unknown", occurred_at=sent_at,
                           region=region, account=account)
    detail = object_or_empty(event.get("detail"))
    state = object_or_empty(detail.get("state"))
    name = _text(detail.get("alarmName"), TITLE_MAX)
    value = _text(state.get("value"), 64)
    if not name or not value:
        raise MalformedPayload("alarm state change without detail.alarmName and detail.state.value")
    configuration = object_or_empty(detail.get("configuration"))
    queries = _list(configuration.get("metrics"), MAX_METRICS)
    threshold = _threshold_from_reason_data(state.get("reasonData"))
    reason = _text(state.get("reason"), TEXT_MAX)
    metric = (_metric_from_queries(queries, _EVENTBRIDGE_KEYS, threshold=threshold,
                                   comparison=_comparison_from_reason(reason))
              if queries else None)
    arn = next((_text(r) for r in _list(event.get("resources"), 10) if isinstance(r, str) and r), None)
    return AlertSignal(
        source=Source.EVENTBRIDGE, delivery_id=delivery_id,
        kind=_KIND_BY_STATE.get(value, SignalKind.IGNORED), event_type=value,
        occurred_at=_timestamp(state.get("timestamp")) or sent_at,
        dedup_key=arn or f"alarm:{name}", title=name,
        description=_join(reason, _text(configuration.get("description"), TEXT_MAX)),
        service_hint=_service_hint(metric, queries, _EVENTBRIDGE_KEYS),
        alarm_name=name, alarm_arn=arn, metric=metric,
        region=region or _arn_part(arn, 3), account=account or _arn_part(arn, 4),
    )
