"""Random and mutated payloads at all three webhook endpoints: 2xx or a clear 4xx, never a 500;
and 503, never 2xx, when the database is down."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.app import create_app
from bot.config.settings import Settings
from sandbox.runner import ThreadedServer
from tests.handlers.webhooks.sns_fixtures import (
    DEFAULT_TOPIC_ARN,
    cloudwatch_alarm_message,
    eventbridge_alarm_event,
    signed_sns_message,
    write_pinned_cert,
)

PD_SECRET = "fuzz-secret"
EB_TOKEN = "fuzz-token"
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=15), children, max_size=6),
    max_leaves=25,
)


def pd_signature(body: bytes) -> str:
    return "v1=" + hmac.new(PD_SECRET.encode(), body, hashlib.sha256).hexdigest()


@pytest.fixture
def bot(bot_factory, tmp_path):
    certs = tmp_path / "certs"
    certs.mkdir()
    write_pinned_cert(certs)
    return bot_factory(pagerduty_webhook_secrets=PD_SECRET, eventbridge_token=EB_TOKEN, sns_certs_dir=str(certs),
                       sns_topic_arns=DEFAULT_TOPIC_ARN)


def mutate(document: object, path_choice: int, replacement: object) -> object:
    """Replace one node of a JSON document (picked by index in a walk) with ``replacement``."""
    nodes: list[tuple[object, object]] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key in list(node):
                nodes.append((node, key))
                walk(node[key])
        elif isinstance(node, list):
            for index in range(len(node)):
                nodes.append((node, index))
                walk(node[index])

    walk(document)
    if nodes:
        parent, key = nodes[path_choice % len(nodes)]
        parent[key] = replacement  # type: ignore[index]
    return document


def pagerduty_event(event_type: str) -> dict:
    return {"event": {"id": uuid.uuid4().hex, "event_type": event_type, "resource_type": "incident",
                      "occurred_at": datetime.now(UTC).isoformat(), "agent": {"summary": "Dana"},
                      "data": {"id": "PFUZZ", "type": "incident", "title": "fuzz", "status": "triggered",
                               "service": {"id": "PSVC001", "summary": "svc"}, "urgency": "high",
                               "priority": {"id": "P", "summary": "P1"}}}}


@SETTINGS
@given(body=st.binary(max_size=400) | json_values.map(lambda v: json.dumps(v).encode()))
def test_signed_random_pagerduty_bodies(bot, http: httpx.Client, body: bytes) -> None:
    answer = http.post(f"{bot.url}/webhooks/pagerduty", content=body,
                       headers={"X-PagerDuty-Signature": pd_signature(body), "X-Webhook-Id": uuid.uuid4().hex})
    assert answer.status_code in (200, 400, 413), answer.text


@SETTINGS
@given(event_type=st.sampled_from(["incident.triggered", "incident.acknowledged", "incident.resolved",
                                   "incident.annotated", "incident.priority_updated", "x"]),
       choice=st.integers(min_value=0, max_value=50), replacement=json_values)
def test_signed_mutated_pagerduty_events(bot, http: httpx.Client, event_type: str, choice: int, replacement) -> None:
    body = json.dumps(mutate(pagerduty_event(event_type), choice, replacement)).encode()
    answer = http.post(f"{bot.url}/webhooks/pagerduty", content=body,
                       headers={"X-PagerDuty-Signature": pd_signature(body), "X-Webhook-Id": uuid.uuid4().hex})
    assert answer.status_code in (200, 400), answer.text


@SETTINGS
@given(body=st.binary(max_size=400) | json_values.map(lambda v: json.dumps(v).encode()))
def test_random_sns_bodies(bot, http: httpx.Client, body: bytes) -> None:
    answer = http.post(f"{bot.url}/webhooks/cloudwatch", content=body)
    assert answer.status_code in (400, 401, 403, 413), answer.text


@SETTINGS
@given(choice=st.integers(min_value=0, max_value=80), replacement=json_values)
def test_mutated_alarm_messages_signed_by_sns(bot, http: httpx.Client, choice: int, replacement) -> None:
    """Valid SNS signatures over mutated alarm JSON: the parser, not the verifier, must cope."""
    alarm = mutate(cloudwatch_alarm_message(), choice, replacement)
    message = signed_sns_message(message=alarm if isinstance(alarm, dict) else json.dumps(alarm))
    answer = http.post(f"{bot.url}/webhooks/cloudwatch", content=json.dumps(message).encode())
    assert answer.status_code in (200, 400), answer.text


@SETTINGS
@given(choice=st.integers(min_value=0, max_value=80), replacement=json_values)
def test_mutated_eventbridge_events(bot, http: httpx.Client, choice: int, replacement) -> None:
    body = json.dumps(mutate(eventbridge_alarm_event(event_id=uuid.uuid4().hex), choice, replacement)).encode()
    answer = http.post(f"{bot.url}/webhooks/eventbridge", content=body, headers={"X-Incident-Bot-Token": EB_TOKEN})
    assert answer.status_code in (200, 400), answer.text


def test_database_down_means_503_never_2xx(slack, tmp_path) -> None:
    settings_ = Settings(
        slack_bot_token="xoxb-x", slack_signing_secret="s", slack_api_url=slack.base_url,
        database_url="postgresql://postgres@127.0.0.1:1/nothing", migrate_on_start=False,
        pagerduty_webhook_secrets=PD_SECRET, eventbridge_token=EB_TOKEN,
    )
    server = ThreadedServer(create_app(settings_)).start()
    try:
        body = json.dumps(pagerduty_event("incident.triggered")).encode()
        with httpx.Client(timeout=20) as http:
            pd = http.post(f"{server.url}/webhooks/pagerduty", content=body,
                           headers={"X-PagerDuty-Signature": pd_signature(body), "X-Webhook-Id": "w1"})
            eb = http.post(f"{server.url}/webhooks/eventbridge", content=json.dumps(eventbridge_alarm_event()).encode(),
                           headers={"X-Incident-Bot-Token": EB_TOKEN})
        assert pd.status_code == 503 and eb.status_code == 503
        assert pd.headers["retry-after"] == "5"
    finally:
        server.stop()
