"""Forged, missing and stale signatures on every inbound route are refused and leave no trace;
a replayed webhook delivery is stored once and opens one incident."""

from __future__ import annotations

import json
import time
import urllib.parse

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.handlers.webhooks.sns_fixtures import (
    eventbridge_alarm_event,
    make_signing_identity,
    signed_sns_message,
)
from tests.scenarios.harness import SIGNING_SECRET, sign
from tests.security.support import (
    EVENTBRIDGE_TOKEN,
    assert_no_trace,
    pagerduty_signature,
    pagerduty_triggered,
)

DECLARE = urllib.parse.urlencode({
    "command": "/incident", "text": "declare P1 forged outage", "user_id": "U0ALICE", "channel_id": "C0GENERAL",
    "team_id": "T0LOCAL", "response_url": "http://127.0.0.1:1/nowhere", "trigger_id": "trig.1",
}).encode()


def slack_forgeries() -> dict[str, dict[str, str]]:
    """Made when a test runs: a "future" timestamp made at import would drift into the window."""
    return {
        "no signature headers": {"Content-Type": "application/x-www-form-urlencoded"},
        "signed with another secret": sign(DECLARE, secret="not-" + SIGNING_SECRET),
        "six minutes old": sign(DECLARE, timestamp=int(time.time()) - 360),
        "six minutes in the future": sign(DECLARE, timestamp=int(time.time()) + 360),
        "a day old": sign(DECLARE, timestamp=int(time.time()) - 86_400),
        "timestamp not a number": {**sign(DECLARE), "X-Slack-Request-Timestamp": "yesterday"},
        "signature of another body": sign(DECLARE + b"&x=1"),
        "signature truncated": {**sign(DECLARE), "X-Slack-Signature": sign(DECLARE)["X-Slack-Signature"][:-2]},
    }


def test_slack_requests_without_a_fresh_valid_signature_are_refused(bot, http, db, slack) -> None:
    # All forgeries against one bot: starting one per case would cost a second each.
    for forgery, headers in slack_forgeries().items():
        answer = http.post(f"{bot.url}/slack/events", content=DECLARE, headers=headers)
        assert answer.status_code == 401, (forgery, answer.text)
    assert_no_trace(db, slack)


def test_a_slack_signature_just_inside_the_window_is_accepted(bot, http, db) -> None:
    """The control for the stale cases: the same request 4 minutes old is acted on."""
    answer = http.post(f"{bot.url}/slack/events", content=DECLARE,
                       headers=sign(DECLARE, timestamp=int(time.time()) - 240))
    assert answer.status_code == 200
    db.wait_incident_ready(1)


PAGERDUTY_FORGERIES = {
    "no signature": lambda body: {},
    "wrong secret": lambda body: {"X-PagerDuty-Signature": pagerduty_signature(body, "guess")},
    "signature of another body": lambda body: {"X-PagerDuty-Signature": pagerduty_signature(body + b" ")},
    "unknown scheme only": lambda body: {"X-PagerDuty-Signature": "v2=" + pagerduty_signature(body)[3:]},
    "empty v1": lambda body: {"X-PagerDuty-Signature": "v1="},
}


def test_pagerduty_deliveries_without_a_valid_signature_are_refused(bot, http, db, slack) -> None:
    body = pagerduty_triggered()
    for forgery, signature in PAGERDUTY_FORGERIES.items():
        headers = {"X-Webhook-Id": "wh-forged", "Content-Type": "application/json", **signature(body)}
        answer = http.post(f"{bot.url}/webhooks/pagerduty", content=body, headers=headers)
        assert answer.status_code == 401, (forgery, answer.text)
    assert_no_trace(db, slack)


def _tampered_after_signing() -> dict:
    message = signed_sns_message()
    alarm = json.loads(message["Message"])
    alarm["AlarmName"] = "attacker-chosen"
    message["Message"] = json.dumps(alarm)
    return message


SNS_FORGERIES = {
    "signed by another key": lambda: signed_sns_message(
        identity=make_signing_identity(key=rsa.generate_private_key(public_exponent=65537, key_size=2048))),
    "message changed after signing": _tampered_after_signing,
    "signature removed": lambda: {**signed_sns_message(), "Signature": ""},
    "signature not base64": lambda: {**signed_sns_message(), "Signature": "!!!"},
    "unsupported signature version": lambda: {**signed_sns_message(), "SignatureVersion": "9"},
}


def test_sns_deliveries_without_a_valid_signature_are_refused(bot, http, db, slack) -> None:
    for forgery, build in SNS_FORGERIES.items():
        answer = http.post(f"{bot.url}/webhooks/cloudwatch", content=json.dumps(build()).encode(),
                           headers={"x-amz-sns-message-type": "Notification"})
        assert answer.status_code == 401, (forgery, answer.text)
    assert_no_trace(db, slack)


def test_eventbridge_deliveries_without_the_token_are_refused(bot, http, db, slack) -> None:
    for token in [None, "", "eventbridge-token", EVENTBRIDGE_TOKEN + "x", EVENTBRIDGE_TOKEN.upper()]:
        headers = {} if token is None else {"X-Incident-Bot-Token": token}
        answer = http.post(f"{bot.url}/webhooks/eventbridge",
                           content=json.dumps(eventbridge_alarm_event()).encode(), headers=headers)
        assert answer.status_code == 401, (token, answer.text)
    assert_no_trace(db, slack)


def test_a_replayed_pagerduty_delivery_is_stored_once_and_opens_one_incident(bot, http: httpx.Client, db) -> None:
    body = pagerduty_triggered()
    headers = {"X-PagerDuty-Signature": pagerduty_signature(body), "X-Webhook-Id": "wh-1"}
    answers = [http.post(f"{bot.url}/webhooks/pagerduty", content=body, headers=headers) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a.json()["status"] for a in answers][1:] == ["duplicate", "duplicate"]
    assert db.deliveries() == 1
    assert len(db.incidents()) == 1


def test_a_replayed_sns_delivery_is_stored_once_and_opens_one_incident(bot, http: httpx.Client, db) -> None:
    body = json.dumps(signed_sns_message()).encode()
    answers = [http.post(f"{bot.url}/webhooks/cloudwatch", content=body) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a.json()["status"] for a in answers][1:] == ["duplicate", "duplicate"]
    assert db.deliveries() == 1
    assert len(db.incidents()) == 1


def test_a_replayed_eventbridge_delivery_is_stored_once(bot, http: httpx.Client, db) -> None:
    body = json.dumps(eventbridge_alarm_event(event_id="eb-replay-1")).encode()
    answers = [http.post(f"{bot.url}/webhooks/eventbridge", content=body,
                         headers={"X-Incident-Bot-Token": EVENTBRIDGE_TOKEN}) for _ in range(2)]
    assert [a.status_code for a in answers] == [200, 200]
    assert db.deliveries() == 1
    assert len(db.incidents()) == 1
