"""SNS payloads name URLs the bot would fetch; ones off SNS's own hosts are refused and never
fetched. A real HTTP server on loopback records any request, so "never fetched" is observed."""

from __future__ import annotations

import json

from tests.handlers.webhooks.sns_fixtures import signed_sns_message
from tests.security.support import assert_no_trace


def test_a_signing_cert_url_off_aws_is_refused_and_never_fetched(bot, http, db, slack, canary) -> None:
    for url in (f"{canary.url}/SimpleNotificationService-test.pem",
                f"https://127.0.0.1:{canary.url.rsplit(':', 1)[1]}/cert.pem",
                f"https://sns.us-east-1.amazonaws.com@127.0.0.1:{canary.url.rsplit(':', 1)[1]}/cert.pem",
                f"https://sns.us-east-1.amazonaws.com.{canary.url.split('//')[1]}/cert.pem"):
        message = signed_sns_message(cert_url=url)
        answer = http.post(f"{bot.url}/webhooks/cloudwatch", content=json.dumps(message).encode())
        assert answer.status_code == 401, (url, answer.text)
    assert canary.requests == []
    assert_no_trace(db, slack)


def test_a_subscribe_url_off_aws_is_never_fetched(bot, http, db, canary) -> None:
    message = signed_sns_message(kind="SubscriptionConfirmation",
                                 subscribe_url=f"{canary.url}/?Action=ConfirmSubscription&Token=x")
    answer = http.post(f"{bot.url}/webhooks/cloudwatch", content=json.dumps(message).encode(),
                       headers={"x-amz-sns-message-type": "SubscriptionConfirmation"})
    assert answer.status_code in (400, 401), answer.text
    assert canary.requests == []
    assert db.deliveries() == 0
