"""Test builders for CloudWatch alarms over SNS and EventBridge, signed the way SNS signs.

Nothing here is mocked: a real RSA key and a self-signed X.509 certificate are generated with
``cryptography`` (once per process), messages are signed over SNS's documented string to sign
(written out again here, independently of the code under test), and the certificate is either
written into a pinned ``SNS_CERTS_DIR`` or served by ``DictCertFetcher``, an implementation of our
own ``CertFetcher`` protocol.

Typical use::

    write_pinned_cert(tmp_path)                              # SNS_CERTS_DIR=tmp_path
    message = signed_sns_message(message=cloudwatch_alarm_message(alarm_name="api-p95"))
    response = client.post("/webhooks/cloudwatch", content=sns_body(message),
                           headers={"x-amz-sns-message-type": message["Type"]})

    event = eventbridge_alarm_event(alarm_name="api-p95", dimensions={"ServiceName": "api"})
    client.post("/webhooks/eventbridge", content=eventbridge_body(event),
                headers={"X-Incident-Bot-Token": token})

All builders take keyword arguments with working defaults, and ``extra=`` dicts that are merged
last, so a test can add, override or (with the value ``DROP``) remove any field.
"""

from __future__ import annotations

import base64
import functools
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from handlers.webhooks.errors import BadSignature

TEST_CERT_NAME = "SimpleNotificationService-test.pem"
DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT = "123456789012"
DEFAULT_TOPIC_ARN = f"arn:aws:sns:{DEFAULT_REGION}:{DEFAULT_ACCOUNT}:incident-bot-alarms"
DEFAULT_ALARM_NAME = "ticket-classifier-p95-latency"
DEFAULT_SERVICE = "ticket-classifier"
ALARM_STATE_CHANGE = "CloudWatch Alarm State Change"

DROP: Any = object()  # in an ``extra=`` dict: remove that field from the built payload


# --- keys and certificates --------------------------------------------------------------------

@dataclass(frozen=True)
class SigningIdentity:
    """An RSA key and the self-signed certificate that carries its public half."""

    key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    @property
    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)


@functools.cache
def _default_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def make_signing_identity(*, not_before: datetime | None = None, not_after: datetime | None = None,
                          key: rsa.RSAPrivateKey | None = None) -> SigningIdentity:
    """A certificate valid from ``not_before`` (default: a day ago) to ``not_after`` (in a year).

    ``key`` defaults to the process-wide test key; pass ``rsa.generate_private_key(...)`` for a
    different signer (a forger, or a rotated certificate).
    """
    key = key or _default_key()
    now = datetime.now(UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - timedelta(days=1))
        .not_valid_after(not_after or now + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return SigningIdentity(key=key, certificate=certificate)


@functools.cache
def default_identity() -> SigningIdentity:
    """The identity every builder signs with unless told otherwise."""
    return make_signing_identity()


def expired_identity() -> SigningIdentity:
    now = datetime.now(UTC)
    return make_signing_identity(not_before=now - timedelta(days=30), not_after=now - timedelta(days=1))


def signing_cert_url(cert_name: str = TEST_CERT_NAME, region: str = DEFAULT_REGION) -> str:
    return f"https://sns.{region}.amazonaws.com/{cert_name}"


def write_pinned_cert(certs_dir: Path, cert_name: str = TEST_CERT_NAME,
                      identity: SigningIdentity | None = None) -> Path:
    """Write the certificate into ``certs_dir`` (an ``SNS_CERTS_DIR``) under ``cert_name``."""
    certs_dir.mkdir(parents=True, exist_ok=True)
    path = certs_dir / cert_name
    path.write_bytes((identity or default_identity()).pem)
    return path


@dataclass
class DictCertFetcher:
    """A ``CertFetcher`` that serves bytes from a dict and records every URL asked for.

    A missing URL is refused the way ``HttpxCertFetcher`` refuses a 404.
    """

    documents: dict[str, bytes] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    async def fetch(self, url: str) -> bytes:
        self.calls.append(url)
        if url not in self.documents:
            raise BadSignature("fetch refused with HTTP 404")
        return self.documents[url]


def fetcher_serving_cert(cert_name: str = TEST_CERT_NAME, region: str = DEFAULT_REGION,
                         identity: SigningIdentity | None = None) -> DictCertFetcher:
    return DictCertFetcher({signing_cert_url(cert_name, region): (identity or default_identity()).pem})


# --- SNS messages -----------------------------------------------------------------------------

_NOTIFICATION_SIGNED = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
_CONFIRMATION_SIGNED = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")


def sns_string_to_sign(message: dict[str, Any]) -> bytes:
    """SNS's documented string to sign: "Name\\nValue\\n" for each signed field present, in order."""
    names = _NOTIFICATION_SIGNED if message["Type"] == "Notification" else _CONFIRMATION_SIGNED
    return "".join(f"{name}\n{message[name]}\n" for name in names if name in message).encode()


def sign_sns_message(message: dict[str, Any], *, version: str = "2",
                     identity: SigningIdentity | None = None) -> dict[str, Any]:
    """A copy of ``message`` with ``SignatureVersion`` and a fresh ``Signature``."""
    algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
    signed = {**message, "SignatureVersion": version}
    signature = (identity or default_identity()).key.sign(sns_string_to_sign(signed), padding.PKCS1v15(), algorithm)
    signed["Signature"] = base64.b64encode(signature).decode()
    return signed


def _sns_timestamp(moment: datetime | None = None) -> str:
    return (moment or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def signed_sns_message(kind: str = "Notification", version: str = "2", message: str | dict[str, Any] | None = None,
                       topic_arn: str = DEFAULT_TOPIC_ARN, cert_name: str = TEST_CERT_NAME,
                       region: str = DEFAULT_REGION, subject: str | None = None, subscribe_url: str | None = None,
                       *, message_id: str | None = None, timestamp: str | None = None, token: str | None = None,
                       cert_url: str | None = None, identity: SigningIdentity | None = None,
                       extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """An SNS HTTP(S) delivery of ``kind`` (Notification, SubscriptionConfirmation, ...), signed.

    ``message`` may be a dict (JSON-encoded, e.g. ``cloudwatch_alarm_message()``) or a string; the
    default is an ALARM for a Notification and SNS's usual text for a confirmation. ``Subject`` is
    included only when given. ``extra`` is merged before signing (use ``DROP`` to remove a field);
    to tamper after signing, change the returned dict.
    """
    if message is None:
        message = cloudwatch_alarm_message() if kind == "Notification" else (
            f"You have chosen to subscribe to the topic {topic_arn}.\n"
            "To confirm the subscription, visit the SubscribeURL included in this message.")
    token = token or uuid.uuid4().hex * 2
    payload: dict[str, Any] = {
        "Type": kind,
        "MessageId": message_id or str(uuid.uuid4()),
        "TopicArn": topic_arn,
        "Message": json.dumps(message) if isinstance(message, dict) else message,
        "Timestamp": timestamp or _sns_timestamp(),
        "SigningCertURL": signing_cert_url(cert_name, region) if cert_url is None else cert_url,
    }
    if kind == "Notification":
        if subject is not None:
            payload["Subject"] = subject
        payload["UnsubscribeURL"] = (f"https://sns.{region}.amazonaws.com/?Action=Unsubscribe"
                                     f"&SubscriptionArn={topic_arn}:{uuid.uuid4()}")
    else:
        payload["Token"] = token
        payload["SubscribeURL"] = subscribe_url or (
            f"https://sns.{region}.amazonaws.com/?Action=ConfirmSubscription&TopicArn={topic_arn}&Token={token}")
    return sign_sns_message(_merged(payload, extra), version=version, identity=identity)


def sns_body(message: dict[str, Any]) -> bytes:
    return json.dumps(message).encode()


# --- CloudWatch alarm JSON (the SNS Message) --------------------------------------------------

def alarm_arn(alarm_name: str = DEFAULT_ALARM_NAME, region: str = DEFAULT_REGION,
              account: str = DEFAULT_ACCOUNT) -> str:
    return f"arn:aws:cloudwatch:{region}:{account}:alarm:{alarm_name}"


def _dimension_list(dimensions: dict[str, str]) -> list[dict[str, str]]:
    return [{"value": value, "name": name} for name, value in dimensions.items()]


def cloudwatch_alarm_message(*, alarm_name: str = DEFAULT_ALARM_NAME, state: str = "ALARM",
                             old_state: str = "OK",
                             reason: str = "Threshold Crossed: 1 datapoint [1.42 (01/05/24 12:00:00)] was "
                                           "greater than the threshold (1.0).",
                             description: str | None = "P95 latency above 1 s",
                             region: str = DEFAULT_REGION, region_name: str = "US East (N. Virginia)",
                             account: str = DEFAULT_ACCOUNT, arn: str | None = None,
                             state_change_time: str = "2024-05-01T12:00:00.123+0000",
                             metric_name: str = "TargetResponseTime", namespace: str = "AWS/ApplicationELB",
                             dimensions: dict[str, str] | None = None, statistic: str = "AVERAGE",
                             period: int = 60, threshold: float = 1.0,
                             comparison: str = "GreaterThanThreshold",
                             extra: dict[str, Any] | None = None,
                             trigger_extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """A simple (one metric) CloudWatch alarm notification, as SNS puts it in ``Message``.

    ``dimensions`` defaults to ``{"ServiceName": DEFAULT_SERVICE}``; pass ``{}`` for none.
    """
    dimensions = {"ServiceName": DEFAULT_SERVICE} if dimensions is None else dimensions
    trigger = {
        "MetricName": metric_name, "Namespace": namespace, "StatisticType": "Statistic",
        "Statistic": statistic, "Unit": None, "Dimensions": _dimension_list(dimensions),
        "Period": period, "EvaluationPeriods": 1, "DatapointsToAlarm": 1,
        "ComparisonOperator": comparison, "Threshold": threshold,
        "TreatMissingData": "missing", "EvaluateLowSampleCountPercentile": "",
    }
    return _alarm_envelope(alarm_name=alarm_name, state=state, old_state=old_state, reason=reason,
                           description=description, region=region, region_name=region_name, account=account,
                           arn=arn, state_change_time=state_change_time,
                           trigger=_merged(trigger, trigger_extra), extra=extra)


def cloudwatch_math_alarm_message(*, alarm_name: str = "ticket-classifier-error-rate", state: str = "ALARM",
                                  expression: str = "100 * errors / requests",
                                  dimensions: dict[str, str] | None = None,
                                  metrics: list[dict[str, Any]] | None = None, threshold: float = 5.0,
                                  comparison: str = "GreaterThanThreshold", **alarm: Any) -> dict[str, Any]:
    """A metric-math alarm: ``Trigger.Metrics`` with two metric queries and a returned expression.

    Pass ``metrics`` to supply the whole query list yourself; other keywords are those of
    ``cloudwatch_alarm_message`` (reason, description, region, account, arn, extra, ...).
    """
    dimensions = {"ServiceName": DEFAULT_SERVICE} if dimensions is None else dimensions
    if metrics is None:
        metrics = [
            {"Id": "e1", "Expression": expression, "Label": "error rate", "ReturnData": True},
            _math_query("errors", "HTTPCode_Target_5XX_Count", dimensions),
            _math_query("requests", "RequestCount", dimensions),
        ]
    trigger = {"Metrics": metrics, "EvaluationPeriods": 1, "DatapointsToAlarm": 1,
               "ComparisonOperator": comparison, "Threshold": threshold,
               "TreatMissingData": "missing", "EvaluateLowSampleCountPercentile": ""}
    trigger = _merged(trigger, alarm.pop("trigger_extra", None))
    defaults = {"old_state": "OK",
                "reason": "Threshold Crossed: 1 datapoint [7.5] was greater than the threshold (5.0).",
                "description": "Error rate above 5%", "region": DEFAULT_REGION,
                "region_name": "US East (N. Virginia)", "account": DEFAULT_ACCOUNT, "arn": None,
                "state_change_time": "2024-05-01T12:00:00.123+0000", "extra": None}
    return _alarm_envelope(alarm_name=alarm_name, state=state, trigger=trigger, **{**defaults, **alarm})


def _math_query(query_id: str, metric_name: str, dimensions: dict[str, str]) -> dict[str, Any]:
    return {"Id": query_id, "ReturnData": False, "Label": metric_name,
            "MetricStat": {"Metric": {"Dimensions": _dimension_list(dimensions), "MetricName": metric_name,
                                      "Namespace": "AWS/ApplicationELB"},
                           "Period": 60, "Stat": "Sum"}}


def _alarm_envelope(*, alarm_name: str, state: str, old_state: str, reason: str, description: str | None,
                    region: str, region_name: str, account: str, arn: str | None, state_change_time: str,
                    trigger: dict[str, Any], extra: dict[str, Any] | None) -> dict[str, Any]:
    message = {
        "AlarmName": alarm_name, "AlarmDescription": description, "AWSAccountId": account,
        "AlarmConfigurationUpdatedTimestamp": "2024-04-01T09:00:00.000+0000",
        "NewStateValue": state, "NewStateReason": reason, "StateChangeTime": state_change_time,
        "Region": region_name, "AlarmArn": arn or alarm_arn(alarm_name, region, account),
        "OldStateValue": old_state, "OKActions": [], "AlarmActions": [], "InsufficientDataActions": [],
        "Trigger": trigger,
    }
    return _merged(message, extra)


# --- EventBridge ------------------------------------------------------------------------------

def eventbridge_alarm_event(*, alarm_name: str = DEFAULT_ALARM_NAME, state: str = "ALARM",
                            previous_state: str = "OK",
                            reason: str = "Threshold Crossed: 1 datapoint [1.42] was greater than the threshold (1.0).",
                            description: str | None = "P95 latency above 1 s",
                            event_id: str | None = None, region: str = DEFAULT_REGION,
                            account: str = DEFAULT_ACCOUNT, time: str = "2024-05-01T12:00:00Z",
                            state_timestamp: str = "2024-05-01T12:00:00.123+0000",
                            metric_name: str = "TargetResponseTime", namespace: str = "AWS/ApplicationELB",
                            dimensions: dict[str, str] | None = None, stat: str = "Average", period: int = 60,
                            expression: str | None = None, detail_type: str = ALARM_STATE_CHANGE,
                            source: str = "aws.cloudwatch", threshold: float | None = 1.0,
                            extra: dict[str, Any] | None = None,
                            detail_extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """A "CloudWatch Alarm State Change" event as an EventBridge API destination posts it.

    Dimensions are a map here. With ``expression``, the alarm is metric math: ``m1`` (the metric,
    not returned) and ``e1`` (the expression, returned). The threshold travels, as AWS sends it,
    only inside ``state.reasonData`` (a JSON string); ``threshold=None`` leaves it out.
    """
    dimensions = {"ServiceName": DEFAULT_SERVICE} if dimensions is None else dimensions
    metric_query = {"id": "m1", "returnData": expression is None,
                    "metricStat": {"metric": {"namespace": namespace, "name": metric_name, "dimensions": dimensions},
                                   "period": period, "stat": stat}}
    metrics = [metric_query] if expression is None else [
        {"id": "e1", "expression": expression, "label": "expression", "returnData": True}, metric_query]
    detail = {
        "alarmName": alarm_name,
        "state": {"value": state, "reason": reason,
                  "reasonData": json.dumps({"version": "1.0", "queryDate": state_timestamp, "statistic": stat,
                                            "period": period, "recentDatapoints": [1.42],
                                            **({} if threshold is None else {"threshold": threshold}),
                                            "evaluatedDatapoints": [{"timestamp": state_timestamp,
                                                                     "sampleCount": 1.0, "value": 1.42}]}),
                  "timestamp": state_timestamp},
        "previousState": {"value": previous_state, "reason": "", "timestamp": "2024-05-01T11:00:00.000+0000"},
        "configuration": {"description": description, "metrics": metrics},
    }
    event = {
        "version": "0", "id": event_id or str(uuid.uuid4()), "detail-type": detail_type, "source": source,
        "account": account, "time": time, "region": region,
        "resources": [alarm_arn(alarm_name, region, account)], "detail": _merged(detail, detail_extra),
    }
    return _merged(event, extra)


def eventbridge_body(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode()


def _merged(base: dict[str, Any], extra: dict[str, Any] | None) -> dict[str, Any]:
    merged = {**base, **(extra or {})}
    return {key: value for key, value in merged.items() if value is not DROP}
