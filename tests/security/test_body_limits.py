"""Bodies over a route's limit are refused with 413 before they are parsed, chunked or not;
bodies just under it are answered for other reasons, never with a 500."""

from __future__ import annotations

import pytest

from handlers.slack.route import SLACK_MAX_BODY_BYTES
from handlers.webhooks.errors import MAX_BODY_BYTES
from tests.scenarios.harness import sign
from tests.security.support import (
    EVENTBRIDGE_TOKEN,
    assert_no_trace,
    pagerduty_signature,
)

LIMITS = {"/slack/events": SLACK_MAX_BODY_BYTES, "/webhooks/pagerduty": MAX_BODY_BYTES,
          "/webhooks/cloudwatch": MAX_BODY_BYTES, "/webhooks/eventbridge": MAX_BODY_BYTES}


def credentials(route: str, body: bytes) -> dict[str, str]:
    """Valid credentials, so that only the size can be the reason for a refusal."""
    if route == "/slack/events":
        return sign(body)
    if route == "/webhooks/pagerduty":
        return {"X-PagerDuty-Signature": pagerduty_signature(body), "X-Webhook-Id": "wh-big"}
    if route == "/webhooks/eventbridge":
        return {"X-Incident-Bot-Token": EVENTBRIDGE_TOKEN}
    return {}


@pytest.mark.parametrize("route", LIMITS)
def test_a_body_one_byte_over_the_limit_is_refused_with_413(bot, http, db, slack, route: str) -> None:
    body = b"a" * (LIMITS[route] + 1)
    answer = http.post(f"{bot.url}{route}", content=body, headers=credentials(route, body))
    assert answer.status_code == 413, answer.text

    def chunks():  # a generator body goes out chunked, with no Content-Length to refuse early
        for start in range(0, len(body), 64 * 1024):
            yield body[start:start + 64 * 1024]

    chunked = http.post(f"{bot.url}{route}", content=chunks(), headers=credentials(route, body))
    assert chunked.request.headers.get("transfer-encoding") == "chunked"
    assert chunked.status_code == 413, chunked.text
    assert_no_trace(db, slack)

    at_limit = b"a" * LIMITS[route]
    answer = http.post(f"{bot.url}{route}", content=at_limit, headers=credentials(route, at_limit))
    assert answer.status_code in (200, 400, 401, 404), answer.text
