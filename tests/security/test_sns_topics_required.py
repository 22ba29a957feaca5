"""No SNS topic is trusted unless configured: with SNS_TOPIC_ARNS unset, genuinely signed alarms
and subscription confirmations from any account are refused, and the bot says so at start-up and
in /readyz instead of confirming a stranger's subscription and paging on its alarms."""

from __future__ import annotations

import json
import logging

from tests.handlers.webhooks.sns_fixtures import (
    DEFAULT_TOPIC_ARN,
    cloudwatch_alarm_message,
    signed_sns_message,
)
from tests.security.support import assert_no_trace

STRANGER_TOPIC = "arn:aws:sns:eu-west-1:999999999999:someone-elses-alarms"


def test_without_configured_topics_no_sns_sender_is_believed(bot_factory, certs_dir, canary, http, db, slack,
                                                             caplog) -> None:
    caplog.set_level(logging.WARNING, logger="incident_bot.security")
    # The SubscribeURL's origin is allowed (a local AWS stand-in), so only the topic rule stands
    # between a stranger's confirmation and the canary being fetched.
    bot = bot_factory(sns_certs_dir=str(certs_dir), aws_endpoint_url=canary.url)

    for topic in (STRANGER_TOPIC, DEFAULT_TOPIC_ARN):
        alarm = signed_sns_message(topic_arn=topic, message=cloudwatch_alarm_message(account="999999999999"))
        answer = http.post(f"{bot.url}/webhooks/cloudwatch", content=json.dumps(alarm).encode(),
                           headers={"x-amz-sns-message-type": "Notification"})
        assert answer.status_code == 403, answer.text
        assert "SNS_TOPIC_ARNS" in answer.json()["error"]
        confirmation = signed_sns_message(kind="SubscriptionConfirmation", topic_arn=topic,
                                          subscribe_url=f"{canary.url}/?Action=ConfirmSubscription&Token=x")
        answer = http.post(f"{bot.url}/webhooks/cloudwatch", content=json.dumps(confirmation).encode(),
                           headers={"x-amz-sns-message-type": "SubscriptionConfirmation"})
        assert answer.status_code == 403, answer.text
    assert canary.requests == []
    assert_no_trace(db, slack)

    assert any("SNS_TOPIC_ARNS" in record.getMessage() for record in caplog.records), "no start-up warning"
    ready = http.get(f"{bot.url}/readyz")
    assert ready.status_code == 200
    assert "SNS_TOPIC_ARNS" in ready.json()["senders"]["cloudwatch_sns"]


def test_a_configured_topic_is_believed_and_others_are_not(bot_factory, certs_dir, canary, http, db) -> None:
    """The control: the same signed messages from the configured topic are taken."""
    bot = bot_factory(sns_certs_dir=str(certs_dir), aws_endpoint_url=canary.url, sns_topic_arns=DEFAULT_TOPIC_ARN)
    assert http.post(f"{bot.url}/webhooks/cloudwatch",
                     content=json.dumps(signed_sns_message(topic_arn=STRANGER_TOPIC)).encode()).status_code == 403
    confirmation = signed_sns_message(kind="SubscriptionConfirmation",
                                      subscribe_url=f"{canary.url}/?Action=ConfirmSubscription&Token=x")
    assert http.post(f"{bot.url}/webhooks/cloudwatch", content=json.dumps(confirmation).encode()).status_code == 200
    assert [method for method, _ in canary.requests] == ["GET"]
    assert http.post(f"{bot.url}/webhooks/cloudwatch",
                     content=json.dumps(signed_sns_message()).encode()).status_code == 200
    db.wait_incident_ready(1)
    assert http.get(f"{bot.url}/readyz").json()["senders"]["cloudwatch_sns"] == "1 topic trusted"
