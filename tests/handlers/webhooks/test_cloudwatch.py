"""CloudWatch alarms over SNS and EventBridge, parsed into AlertSignals; any input, no crash."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.signals import AlertSignal, MetricRef, SignalKind, Source
from handlers.webhooks.cloudwatch import (
    alarm_signal_from_eventbridge,
    alarm_signal_from_sns,
    check_eventbridge_token,
    parse_sns_envelope,
)
from handlers.webhooks.errors import (
    MAX_BODY_BYTES,
    BadSignature,
    MalformedPayload,
    PayloadTooLarge,
    WebhookError,
)
from tests.handlers.webhooks.sns_fixtures import (
    DEFAULT_ACCOUNT,
    DEFAULT_SERVICE,
    DEFAULT_TOPIC_ARN,
    DROP,
    alarm_arn,
    cloudwatch_alarm_message,
    cloudwatch_math_alarm_message,
    eventbridge_alarm_event,
    eventbridge_body,
    signed_sns_message,
    sns_body,
)


def notification(message: str | dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    return parse_sns_envelope(sns_body(signed_sns_message(message=message, **kwargs)))


# --- the SNS envelope -------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation"])
def test_a_valid_envelope_parses(kind: str) -> None:
    message = signed_sns_message(kind=kind)
    assert parse_sns_envelope(sns_body(message)) == message


def test_a_body_over_256_kb_is_too_large_before_it_is_parsed() -> None:
    with pytest.raises(PayloadTooLarge) as caught:
        parse_sns_envelope(b"x" * (MAX_BODY_BYTES + 1))
    assert caught.value.http_status == 413
    with pytest.raises(PayloadTooLarge):
        alarm_signal_from_eventbridge(b" " * (MAX_BODY_BYTES + 1))


def test_a_body_of_exactly_256_kb_is_accepted() -> None:
    body = sns_body(signed_sns_message())
    body = body[:-1] + b" " * (MAX_BODY_BYTES - len(body)) + b"}"
    assert len(body) == MAX_BODY_BYTES
    parse_sns_envelope(body)


@pytest.mark.parametrize("body", [
    b"", b"\xff\xfe{}", b"{", b"not json", b"[1, 2]", b'"text"', b"null", b"\xef\xbb\xbf{}",
    json.dumps({"Type": "Notification"}).encode("utf-16"),
    b"[" * 100_000 + b"]" * 100_000,
    b'{"Type": "Notification"}', b'{"Type": "Bogus"}', b'{"Type": 1}',
])
def test_a_malformed_envelope_is_refused(body: bytes) -> None:
    with pytest.raises(MalformedPayload) as caught:
        parse_sns_envelope(body)
    assert caught.value.http_status == 400


def test_a_non_string_subject_is_malformed() -> None:
    with pytest.raises(MalformedPayload):
        parse_sns_envelope(sns_body({**signed_sns_message(), "Subject": ["x"]}))


# --- CloudWatch alarms over SNS ---------------------------------------------------------------

def test_a_simple_alarm_becomes_a_trigger() -> None:
    envelope = notification(cloudwatch_alarm_message(
        alarm_name="api-p95", dimensions={"ServiceName": "api", "Cluster": "prod"}))
    signal = alarm_signal_from_sns(envelope)
    assert signal == AlertSignal(
        source=Source.CLOUDWATCH, delivery_id=envelope["MessageId"], kind=SignalKind.TRIGGER,
        event_type="ALARM", occurred_at=datetime(2024, 5, 1, 12, 0, 0, 123000, tzinfo=UTC),
        dedup_key=alarm_arn("api-p95"), title="api-p95",
        description="Threshold Crossed: 1 datapoint [1.42 (01/05/24 12:00:00)] was greater than the "
                    "threshold (1.0).\n\nP95 latency above 1 s",
        service_hint="api", alarm_name="api-p95", alarm_arn=alarm_arn("api-p95"),
        metric=MetricRef(namespace="AWS/ApplicationELB", name="TargetResponseTime",
                         dimensions={"ServiceName": "api", "Cluster": "prod"}, statistic="AVERAGE",
                         period=60, threshold=1.0, comparison="GreaterThanThreshold"),
        region="us-east-1", account=DEFAULT_ACCOUNT, topic_arn=DEFAULT_TOPIC_ARN,
    )


@pytest.mark.parametrize(("state", "kind"), [
    ("ALARM", SignalKind.TRIGGER), ("OK", SignalKind.CLEAR),
    ("INSUFFICIENT_DATA", SignalKind.IGNORED), ("SOMETHING_NEW", SignalKind.IGNORED),
])
def test_alarm_states_map_to_signal_kinds(state: str, kind: SignalKind) -> None:
    signal = alarm_signal_from_sns(notification(cloudwatch_alarm_message(state=state)))
    assert (signal.kind, signal.event_type) == (kind, state)
    assert signal.dedup_key == alarm_arn()  # the same alarm: OK clears what ALARM opened


def test_a_metric_math_alarm_reports_its_expression_and_underlying_metric() -> None:
    signal = alarm_signal_from_sns(notification(cloudwatch_math_alarm_message(
        alarm_name="api-error-rate", dimensions={"ServiceName": "api"})))
    assert signal.kind is SignalKind.TRIGGER
    assert signal.title == "api-error-rate"
    assert signal.service_hint == "api"
    assert signal.metric == MetricRef(
        namespace="AWS/ApplicationELB", name="HTTPCode_Target_5XX_Count", dimensions={"ServiceName": "api"},
        statistic="Sum", period=60, threshold=5.0, comparison="GreaterThanThreshold",
        expression="100 * errors / requests")


def test_a_math_alarm_that_returns_a_metric_reports_that_metric() -> None:
    metrics = [
        {"Id": "m0", "ReturnData": False, "MetricStat": {"Metric": {"MetricName": "Other", "Namespace": "X",
                                                                     "Dimensions": []}, "Period": 300, "Stat": "Max"}},
        {"Id": "m1", "ReturnData": True, "MetricStat": {
            "Metric": {"MetricName": "Latency", "Namespace": "ML/Serving",
                       "Dimensions": [{"value": "scorer", "name": "ServiceName"}]},
            "Period": 60, "Stat": "p95"}},
    ]
    signal = alarm_signal_from_sns(notification(cloudwatch_math_alarm_message(metrics=metrics)))
    assert signal.metric is not None
    assert (signal.metric.namespace, signal.metric.name, signal.metric.statistic) == ("ML/Serving", "Latency", "p95")
    assert signal.metric.expression is None
    assert signal.service_hint == "scorer"


def test_a_percentile_alarm_reports_its_extended_statistic() -> None:
    message = cloudwatch_alarm_message(trigger_extra={"StatisticType": "ExtendedStatistic",
                                                      "Statistic": DROP, "ExtendedStatistic": "p95"})
    assert alarm_signal_from_sns(notification(message)).metric.statistic == "p95"  # type: ignore[union-attr]


def test_an_alarm_without_service_dimension_or_arn() -> None:
    message = cloudwatch_alarm_message(alarm_name="disk-full", dimensions={"InstanceId": "i-1"},
                                       extra={"AlarmArn": DROP, "Region": "EU - Ireland"})
    signal = alarm_signal_from_sns(notification(message))
    assert signal.dedup_key == "alarm:disk-full"
    assert signal.service_hint is None
    assert signal.region == "EU - Ireland"


def test_a_notification_that_is_not_an_alarm_is_ignored_not_refused() -> None:
    envelope = notification("Hello from a human", subject="hi")
    signal = alarm_signal_from_sns(envelope)
    assert signal.kind is SignalKind.IGNORED
    assert (signal.delivery_id, signal.title, signal.description) == (envelope["MessageId"], "hi", "Hello from a human")
    assert signal.topic_arn == DEFAULT_TOPIC_ARN


@pytest.mark.parametrize("message", ['{"some": "json"}', "[1]", '{"AlarmName": "x"}',
                                     '{"AlarmName": 3, "NewStateValue": "ALARM"}'])
def test_json_that_is_not_an_alarm_is_ignored(message: str) -> None:
    assert alarm_signal_from_sns(notification(message)).kind is SignalKind.IGNORED


def test_an_unparseable_state_change_time_falls_back_to_the_sns_timestamp() -> None:
    envelope = notification(cloudwatch_alarm_message(state_change_time="yesterday"),
                            timestamp="2024-05-01T12:00:05.000Z")
    assert alarm_signal_from_sns(envelope).occurred_at == datetime(2024, 5, 1, 12, 0, 5, tzinfo=UTC)
    envelope = notification(cloudwatch_alarm_message(state_change_time="yesterday"), timestamp="later")
    assert alarm_signal_from_sns(envelope).occurred_at is None


def test_long_and_dirty_strings_are_capped_and_cleaned() -> None:
    message = cloudwatch_alarm_message(alarm_name="a\x00" + "b" * 5_000, reason="r" * 100_000)
    signal = alarm_signal_from_sns(notification(message))
    assert signal.title == "a" + "b" * 998
    assert len(signal.description) <= 4_000
    envelope = {**notification(cloudwatch_alarm_message()),
                "Message": json.dumps({**cloudwatch_alarm_message(), "AlarmName": "bad\ud800name"})}
    assert alarm_signal_from_sns(envelope).title == "bad?name"


@pytest.mark.parametrize("kind", ["SubscriptionConfirmation", "UnsubscribeConfirmation"])
def test_a_confirmation_is_an_ignored_signal(kind: str) -> None:
    envelope = parse_sns_envelope(sns_body(signed_sns_message(kind=kind)))
    signal = alarm_signal_from_sns(envelope)
    assert (signal.kind, signal.event_type, signal.delivery_id) == (SignalKind.IGNORED, kind, envelope["MessageId"])
    assert (signal.title, signal.description) == ("", "")


@pytest.mark.parametrize("envelope", [
    {}, [], "x", {"Type": "Bogus", "MessageId": "m"}, {"Type": ["Notification"], "MessageId": "m"},
    {"Type": "Notification"}, {"Type": "Notification", "MessageId": ""},
    {"Type": "Notification", "MessageId": "x" * 300}, {"Type": "Notification", "MessageId": "a\x00b"},
])
def test_a_non_sns_envelope_is_malformed(envelope: Any) -> None:
    with pytest.raises(MalformedPayload):
        alarm_signal_from_sns(envelope)


# --- CloudWatch alarms over EventBridge -------------------------------------------------------

def test_an_eventbridge_alarm_becomes_a_trigger() -> None:
    event = eventbridge_alarm_event(alarm_name="api-p95", region="eu-west-1",
                                    dimensions={"ServiceName": "api", "LoadBalancer": "app/lb/1"})
    signal = alarm_signal_from_eventbridge(eventbridge_body(event))
    assert signal == AlertSignal(
        source=Source.EVENTBRIDGE, delivery_id=event["id"], kind=SignalKind.TRIGGER, event_type="ALARM",
        occurred_at=datetime(2024, 5, 1, 12, 0, 0, 123000, tzinfo=UTC),
        dedup_key=alarm_arn("api-p95", "eu-west-1"), title="api-p95",
        description="Threshold Crossed: 1 datapoint [1.42] was greater than the threshold (1.0).\n\n"
                    "P95 latency above 1 s",
        service_hint="api", alarm_name="api-p95", alarm_arn=alarm_arn("api-p95", "eu-west-1"),
        metric=MetricRef(namespace="AWS/ApplicationELB", name="TargetResponseTime",
                         dimensions={"ServiceName": "api", "LoadBalancer": "app/lb/1"},
                         statistic="Average", period=60, threshold=1.0, comparison="GreaterThanThreshold"),
        region="eu-west-1", account=DEFAULT_ACCOUNT,
    )


def eventbridge_state(event: dict[str, Any], **state: Any) -> dict[str, Any]:
    """The event with ``detail.state`` fields replaced (reason, reasonData, ...)."""
    detail = event["detail"]
    return {**event, "detail": {**detail, "state": {**detail["state"], **state}}}


@pytest.mark.parametrize(("relation", "comparison"), [
    ("greater than", "GreaterThanThreshold"),
    ("greater than or equal to", "GreaterThanOrEqualToThreshold"),
    ("less than", "LessThanThreshold"),
    ("less than or equal to", "LessThanOrEqualToThreshold"),
    # Back to OK, the reason says the datapoints are no longer on the alarm's side.
    ("not less than", "LessThanThreshold"),
])
def test_an_eventbridge_alarm_keeps_its_threshold_and_comparison(relation: str, comparison: str) -> None:
    """EventBridge has no Trigger block: the threshold is in reasonData, the comparison in the reason."""
    event = eventbridge_state(eventbridge_alarm_event(threshold=0.85),
                              reason=f"Threshold Crossed: 1 out of the last 1 datapoints [0.78 (01/05/24 11:59:00)] "
                                     f"was {relation} the threshold (0.85) (minimum 1 datapoint for OK -> ALARM "
                                     "transition).")
    metric = alarm_signal_from_eventbridge(eventbridge_body(event)).metric
    assert metric is not None and (metric.threshold, metric.comparison) == (0.85, comparison)


@pytest.mark.parametrize("reason_data", [
    None, 12, "", "not json", "[]", '{"threshold": "1.0"}', '{"threshold": true}', '{"threshold": NaN}',
    '{"threshold": 1e999}', "[" * 500 + "]" * 500, '{"threshold": ' + "[" * 200 + "]" * 200 + "}",
])
def test_an_unreadable_reason_data_leaves_the_threshold_unknown(reason_data: Any) -> None:
    event = eventbridge_state(eventbridge_alarm_event(), reasonData=reason_data, reason="Anomaly band crossed")
    signal = alarm_signal_from_eventbridge(eventbridge_body(event))
    assert signal.kind is SignalKind.TRIGGER and signal.metric is not None
    assert (signal.metric.threshold, signal.metric.comparison) == (None, None)


def test_an_eventbridge_math_alarm() -> None:
    event = eventbridge_alarm_event(expression="m1 * 100", dimensions={"ServiceName": DEFAULT_SERVICE})
    signal = alarm_signal_from_eventbridge(eventbridge_body(event))
    assert signal.metric is not None
    assert (signal.metric.expression, signal.metric.name) == ("m1 * 100", "TargetResponseTime")
    assert signal.service_hint == DEFAULT_SERVICE


@pytest.mark.parametrize(("state", "kind"), [
    ("ALARM", SignalKind.TRIGGER), ("OK", SignalKind.CLEAR), ("INSUFFICIENT_DATA", SignalKind.IGNORED),
])
def test_eventbridge_states_map_to_signal_kinds(state: str, kind: SignalKind) -> None:
    assert alarm_signal_from_eventbridge(eventbridge_body(eventbridge_alarm_event(state=state))).kind is kind


@pytest.mark.parametrize("overrides", [
    {"detail_type": "EC2 Instance State-change Notification"},
    {"source": "aws.ec2"},
])
def test_other_eventbridge_events_are_ignored(overrides: dict[str, str]) -> None:
    event = eventbridge_alarm_event(**overrides)
    signal = alarm_signal_from_eventbridge(eventbridge_body(event))
    assert (signal.kind, signal.delivery_id) == (SignalKind.IGNORED, event["id"])


def test_eventbridge_falls_back_to_the_event_time_and_the_alarm_name() -> None:
    event = eventbridge_alarm_event(alarm_name="x", state_timestamp="nope", extra={"resources": []})
    signal = alarm_signal_from_eventbridge(eventbridge_body(event))
    assert signal.occurred_at == datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert signal.dedup_key == "alarm:x"


@pytest.mark.parametrize("body", [
    b"", b"{", b"[]", b"\xff",
    eventbridge_body(eventbridge_alarm_event(extra={"id": DROP})),
    eventbridge_body(eventbridge_alarm_event(extra={"id": 12})),
    eventbridge_body(eventbridge_alarm_event(extra={"detail": DROP})),
    eventbridge_body(eventbridge_alarm_event(detail_extra={"state": {"reason": "no value"}})),
    eventbridge_body(eventbridge_alarm_event(detail_extra={"alarmName": ""})),
])
def test_a_malformed_eventbridge_body_is_refused(body: bytes) -> None:
    with pytest.raises(MalformedPayload):
        alarm_signal_from_eventbridge(body)


# --- the EventBridge token --------------------------------------------------------------------

def test_the_right_token_passes() -> None:
    check_eventbridge_token("s3cret", "s3cret")


@pytest.mark.parametrize(("header", "expected"), [
    (None, "s3cret"), ("", "s3cret"), ("wrong", "s3cret"), ("s3cret ", "s3cret"), ("é", "s3cret"),
    ("\ud800", "s3cret"), ("anything", ""), (None, ""), ("", ""),
])
def test_a_missing_or_wrong_token_is_refused(header: str | None, expected: str) -> None:
    with pytest.raises(BadSignature) as caught:
        check_eventbridge_token(header, expected)
    assert caught.value.http_status == 401


# --- properties -------------------------------------------------------------------------------

any_text = st.text(st.characters(exclude_categories=()), max_size=30)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(min_value=10**300, max_value=10**320)
    | st.floats() | any_text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(any_text, children, max_size=5),
    max_leaves=25,
)


def as_body(value: object) -> bytes:
    return json.dumps(value).encode()


def parses_or_refuses(parse: Any, value: object) -> None:
    try:
        result = parse(value)
    except WebhookError:
        return
    assert result is not None


@settings(max_examples=300, deadline=None)
@given(body=st.binary(max_size=512))
def test_arbitrary_bytes_never_crash_the_parsers(body: bytes) -> None:
    parses_or_refuses(parse_sns_envelope, body)
    parses_or_refuses(alarm_signal_from_eventbridge, body)


@settings(max_examples=300, deadline=None)
@given(value=json_values)
def test_arbitrary_json_never_crashes_the_parsers(value: object) -> None:
    parses_or_refuses(parse_sns_envelope, as_body(value))
    parses_or_refuses(alarm_signal_from_eventbridge, as_body(value))
    parses_or_refuses(alarm_signal_from_sns, value)
    parses_or_refuses(alarm_signal_from_sns, {"Type": "Notification", "MessageId": "m", "Message": json.dumps(value)})


def mutated(base: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(st.sampled_from(sorted(base)), json_values, max_size=3).map(
        lambda changes: {**base, **changes})


def mutated_nested(base: dict[str, Any], key: str) -> st.SearchStrategy[dict[str, Any]]:
    return mutated(base[key]).map(lambda inner: {**base, key: inner})


SIMPLE_ALARM = cloudwatch_alarm_message()
MATH_ALARM = cloudwatch_math_alarm_message()
EVENT = eventbridge_alarm_event(expression="m1 * 2")


@settings(max_examples=300, deadline=None)
@given(alarm=mutated(SIMPLE_ALARM) | mutated(MATH_ALARM) | mutated_nested(SIMPLE_ALARM, "Trigger")
       | mutated_nested(MATH_ALARM, "Trigger"))
def test_mutated_alarm_json_never_crashes(alarm: dict[str, Any]) -> None:
    envelope = {"Type": "Notification", "MessageId": "m", "Message": json.dumps(alarm), "TopicArn": "t"}
    assert isinstance(alarm_signal_from_sns(envelope), AlertSignal)


MUTATED_STATE = mutated(EVENT["detail"]["state"]).map(
    lambda state: {**EVENT, "detail": {**EVENT["detail"], "state": state}})


@settings(max_examples=300, deadline=None)
@given(event=mutated(EVENT) | mutated_nested(EVENT, "detail") | MUTATED_STATE)
def test_mutated_eventbridge_events_never_crash(event: dict[str, Any]) -> None:
    parses_or_refuses(alarm_signal_from_eventbridge, as_body(event))


@settings(max_examples=200, deadline=None)
@given(configuration=mutated(EVENT["detail"]["configuration"]),
       metrics=st.lists(json_values | mutated(EVENT["detail"]["configuration"]["metrics"][1]), max_size=4))
def test_mutated_eventbridge_metrics_never_crash(configuration: dict[str, Any], metrics: list[Any]) -> None:
    event = {**EVENT, "detail": {**EVENT["detail"], "configuration": {**configuration, "metrics": metrics}}}
    parses_or_refuses(alarm_signal_from_eventbridge, as_body(event))
