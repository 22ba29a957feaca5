"""CloudWatch alarms over SNS (signatures v1 and v2) and EventBridge, over real HTTP."""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi import FastAPI, Request

from sandbox.runner import ThreadedServer
from tests.handlers.webhooks.sns_fixtures import (
    DEFAULT_TOPIC_ARN,
    alarm_arn,
    cloudwatch_alarm_message,
    cloudwatch_math_alarm_message,
    eventbridge_alarm_event,
    eventbridge_body,
    signed_sns_message,
    sns_body,
    write_pinned_cert,
)
from tests.scenarios.test_lifecycle import all_text, headline_message, incident_channel

EVENTBRIDGE_TOKEN = "eb-shared-secret"


@pytest.fixture
def aws_stand_in():
    """A local HTTP server standing in for AWS: it records SubscribeURL confirmations."""
    app = FastAPI()
    app.state.confirmations = []

    @app.get("/")
    async def confirm(request: Request) -> dict:
        app.state.confirmations.append(dict(request.query_params))
        return {"ConfirmSubscriptionResponse": {}}

    server = ThreadedServer(app).start()
    yield server
    server.stop()


@pytest.fixture
def bot(bot_factory, tmp_path, aws_stand_in):
    certs = tmp_path / "sns-certs"
    certs.mkdir()
    write_pinned_cert(certs)
    config = tmp_path / "config.yaml"
    config.write_text("alerts:\n  summary_every: 1s\n")
    return bot_factory(sns_certs_dir=str(certs), sns_topic_arns=DEFAULT_TOPIC_ARN, eventbridge_token=EVENTBRIDGE_TOKEN,
                       config_path=str(config),
                       aws_endpoint_url=aws_stand_in.url, slack_post_interval=1.0)


def post_sns(http: httpx.Client, bot, message: dict) -> httpx.Response:
    return http.post(f"{bot.url}/webhooks/cloudwatch", content=sns_body(message),
                     headers={"x-amz-sns-message-type": message["Type"], "Content-Type": "text/plain"})


@pytest.mark.parametrize("version", ["1", "2"])
def test_signed_alarm_opens_an_incident_named_after_the_alarm(bot, http, slack, db, version: str) -> None:
    message = signed_sns_message(version=version,
                                 message=cloudwatch_alarm_message(alarm_name="multimodal-prod-p95-latency"))
    answer = post_sns(http, bot, message)
    assert answer.status_code == 200 and answer.json()["status"] == "accepted"
    assert db.last_outcome() == ("opened", 1)
    db.wait_outbox_drained()
    stored = db.incident(1)
    assert stored.source == "cloudwatch" and stored.service == "ticket-classifier"
    assert "multimodal-prod-p95-latency" in all_text(headline_message(slack, db))
    assert post_sns(http, bot, message).json()["status"] == "duplicate"
    assert len(db.incidents()) == 1


def test_alarms_of_one_service_group_and_clearing_all_offers_resolve(bot, http, slack, db) -> None:
    latency = cloudwatch_alarm_message(alarm_name="api-p95-latency")
    errors = cloudwatch_math_alarm_message(alarm_name="api-error-rate", dimensions={"ServiceName": "ticket-classifier"})
    assert post_sns(http, bot, signed_sns_message(message=latency)).json()["status"] == "accepted"
    assert post_sns(http, bot, signed_sns_message(message=errors)).json()["status"] == "accepted"
    for alarm in ("api-p95-latency", "api-error-rate"):
        ok = cloudwatch_alarm_message(alarm_name=alarm, state="OK", old_state="ALARM", arn=alarm_arn(alarm))
        assert post_sns(http, bot, signed_sns_message(message=ok)).json()["status"] == "accepted"
    assert db.outcomes() == ["opened", "attached", "updated", "updated"]
    db.wait_outbox_drained()
    channel = incident_channel(slack, db)
    cleared = [m for m in slack.messages(channel.id) if "Every alert of this incident has cleared" in all_text(m)]
    assert len(cleared) == 1
    buttons = [e["action_id"] for b in cleared[0].blocks if b["type"] == "actions" for e in b["elements"]]
    assert buttons == ["incident_resolve"]
    assert "0 of 2 firing" in all_text(headline_message(slack, db))


def test_forged_disallowed_oversized_and_malformed_deliveries_are_refused(bot_factory, tmp_path, http, db) -> None:
    certs = tmp_path / "certs"
    certs.mkdir()
    write_pinned_cert(certs)
    bot = bot_factory(sns_certs_dir=str(certs), sns_topic_arns=DEFAULT_TOPIC_ARN)
    tampered = signed_sns_message()
    tampered["Message"] = tampered["Message"].replace("ALARM", "OK")
    assert post_sns(http, bot, tampered).status_code == 401
    other_topic = signed_sns_message(topic_arn="arn:aws:sns:us-east-1:999999999999:someone-else")
    assert post_sns(http, bot, other_topic).status_code == 403
    untrusted = signed_sns_message(cert_url="https://evil.example.com/SimpleNotificationService-test.pem")
    assert post_sns(http, bot, untrusted).status_code == 401
    url = f"{bot.url}/webhooks/cloudwatch"
    assert http.post(url, content=b"{not json").status_code == 400
    assert http.post(url, content=b"x" * (256 * 1024 + 1)).status_code == 413
    assert db.incidents() == []


def test_subscription_is_confirmed_only_through_an_allowed_url(bot, http, aws_stand_in) -> None:
    good = signed_sns_message(kind="SubscriptionConfirmation",
                              subscribe_url=f"{aws_stand_in.url}/?Action=ConfirmSubscription&Token=abc")
    assert post_sns(http, bot, good).status_code == 200
    assert aws_stand_in.app.state.confirmations == [{"Action": "ConfirmSubscription", "Token": "abc"}]
    evil = signed_sns_message(kind="SubscriptionConfirmation", subscribe_url="https://evil.example.com/?Token=x")
    assert post_sns(http, bot, evil).status_code in (400, 401)
    assert len(aws_stand_in.app.state.confirmations) == 1


def test_eventbridge_alarm_with_the_token_opens_and_dedupes(bot, http, slack, db) -> None:
    event = eventbridge_alarm_event(alarm_name="scoring-engine-5xx", dimensions={"ServiceName": "scoring-engine"})
    url = f"{bot.url}/webhooks/eventbridge"
    headers = {"X-Incident-Bot-Token": EVENTBRIDGE_TOKEN, "Content-Type": "application/json"}
    assert http.post(url, content=eventbridge_body(event), headers={"X-Incident-Bot-Token": "wrong"}).status_code == 401
    assert http.post(url, content=eventbridge_body(event)).status_code == 401
    opened = http.post(url, content=eventbridge_body(event), headers=headers)
    assert opened.json()["status"] == "accepted"
    assert db.last_outcome() == ("opened", 1)
    assert http.post(url, content=eventbridge_body(event), headers=headers).json()["status"] == "duplicate"
    db.wait_outbox_drained()
    assert db.incident(1).service == "scoring-engine"
    assert "scoring-engine-5xx" in all_text(headline_message(slack, db))


def test_a_storm_of_1000_alerts_gives_one_channel_and_bounded_slack_traffic(bot, http, slack, db) -> None:
    alarms = [f"storm-alarm-{i % 7}" for i in range(1000)]
    signed = [signed_sns_message(message=cloudwatch_alarm_message(alarm_name=a), message_id=str(uuid.uuid4()))
              for a in alarms]
    local = threading.local()

    def send(message: dict) -> int:
        """Deliver as SNS does: anything but 2xx is tried again."""
        if not hasattr(local, "client"):
            local.client = httpx.Client(timeout=30)
        for attempt in range(10):
            status = post_sns(local.client, bot, message).status_code
            if status != 503:
                return status
            time.sleep(0.2 * (attempt + 1))
        return status

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(send, signed))
    assert statuses == [200] * 1000
    assert db.deliveries() == 1000  # each stored exactly once, retried or not
    db.wait_outbox_drained(timeout=120)
    assert len(db.incidents()) == 1
    assert len([c for c in slack.calls("conversations.create") if c.ok]) == 1
    channel = incident_channel(slack, db)
    posts = slack.messages(channel.id)
    elapsed = time.monotonic() - started
    # Summaries, not one post per alert: the headline, then at most one post per second.
    assert len(posts) <= elapsed + 2, (len(posts), elapsed)
    summary_posts = [m for m in posts if " in the last " in all_text(m)]
    gaps = [float(b.ts) - float(a.ts) for a, b in itertools.pairwise(summary_posts)]
    # The pacer spaces the requests a second apart; Slack stamps them on arrival, so allow jitter.
    assert min(gaps, default=1.0) >= 0.8, gaps
    summaries = [all_text(m) for m in summary_posts]
    assert summaries and "top alarms: storm-alarm-" in summaries[0]
    counted = sum(int(text.split("+")[1].split(" ")[0].replace(",", "")) for text in summaries)
    assert counted == 999  # every alert after the opening one is in exactly one summary
    assert "1,000 received · 7 of 7 firing" in all_text(headline_message(slack, db))
    assert json.dumps(slack.calls()[-1].params)  # the run ended with Slack calls we can read
