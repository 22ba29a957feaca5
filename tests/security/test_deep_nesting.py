"""Absurdly nested JSON, validly signed, is refused with 400 on every route before anything
parses it: never a 500 from a RecursionError, and nothing stored or said."""

from __future__ import annotations

import json
import urllib.parse

import pytest

from tests.handlers.webhooks.sns_fixtures import (
    eventbridge_alarm_event,
    signed_sns_message,
)
from tests.scenarios.harness import sign
from tests.security.support import (
    EVENTBRIDGE_TOKEN,
    assert_no_trace,
    pagerduty_signature,
)

DEPTH = 100_000
DEEP_ARRAY = "[" * DEPTH + "]" * DEPTH
# Shallower, so that it stays under the webhooks' 256 KB body limit; still 20 times Python's recursion limit.
DEEP_OBJECT = '{"a":' * 20_000 + "1" + "}" * 20_000


def deep_slack_bodies() -> dict[str, tuple[bytes, str]]:
    """Bodies Bolt would hand to json.loads, each with the content type that makes it do so."""
    interaction = {"type": "block_actions", "user": {"id": "U0ALICE"}, "actions": json.loads("[" * 50 + "]" * 50)}
    return {
        "a JSON array": (DEEP_ARRAY.encode(), "application/json"),
        "a JSON object": (DEEP_OBJECT.encode(), "application/json"),
        "an object under another content type": (('{"x":' + DEEP_ARRAY + "}").encode(), "text/plain"),
        "inside payload=": (urllib.parse.urlencode({"payload": DEEP_ARRAY}).encode(),
                            "application/x-www-form-urlencoded"),
        "deep inside an interaction": (
            urllib.parse.urlencode({"payload": json.dumps(interaction).replace('"actions": [', '"actions": ['
                                                                                + DEEP_ARRAY + ", ", 1)}).encode(),
            "application/x-www-form-urlencoded"),
    }


@pytest.mark.parametrize("case", list(deep_slack_bodies()))
def test_a_deeply_nested_signed_slack_body_is_refused_with_400(bot, http, db, slack, case: str) -> None:
    body, content_type = deep_slack_bodies()[case]
    answer = http.post(f"{bot.url}/slack/events", content=body, headers={**sign(body), "Content-Type": content_type})
    assert answer.status_code == 400, answer.text
    assert "nested" in answer.json()["error"]
    assert_no_trace(db, slack)


def test_ordinary_slack_nesting_still_passes(bot, alice, db) -> None:
    """The control: a real command and a real view submission are not refused by the bound."""
    assert alice.command("declare P2 nesting control").status_code == 200
    db.wait_incident_ready(1)


def test_deeply_nested_webhook_bodies_are_refused_with_400(bot, http, db, slack) -> None:
    for body in (DEEP_ARRAY.encode(), DEEP_OBJECT.encode()):
        pagerduty = http.post(f"{bot.url}/webhooks/pagerduty", content=body,
                              headers={"X-PagerDuty-Signature": pagerduty_signature(body), "X-Webhook-Id": "wh-deep"})
        assert pagerduty.status_code == 400, pagerduty.text
        eventbridge = http.post(f"{bot.url}/webhooks/eventbridge", content=body,
                                headers={"X-Incident-Bot-Token": EVENTBRIDGE_TOKEN})
        assert eventbridge.status_code == 400, eventbridge.text
        sns = http.post(f"{bot.url}/webhooks/cloudwatch", content=body)
        assert sns.status_code == 400, sns.text
    # A validly signed SNS envelope whose alarm Message is the deep part.
    sns_deep_message = json.dumps(signed_sns_message(message=DEEP_ARRAY)).encode()
    assert http.post(f"{bot.url}/webhooks/cloudwatch", content=sns_deep_message).status_code == 400
    # An EventBridge event that is a real alarm but for one deep field.
    event = eventbridge_alarm_event()
    event["detail"]["configuration"]["metrics"] = json.loads("[" * 900 + "]" * 900)
    answer = http.post(f"{bot.url}/webhooks/eventbridge", content=json.dumps(event).encode(),
                       headers={"X-Incident-Bot-Token": EVENTBRIDGE_TOKEN})
    assert answer.status_code == 400, answer.text
    assert_no_trace(db, slack)
