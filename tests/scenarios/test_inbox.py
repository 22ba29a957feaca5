"""The inbox seen from outside: a delivery is answered once it is durable and applied after; a
backlog past its bound is answered 503 with Retry-After (never a 2xx it cannot keep), and
/readyz and /metrics show the backlog and the age of its oldest delivery."""

from __future__ import annotations

import json

import httpx

from tests.scenarios.actions_support import wait_for
from tests.scenarios.harness import Database
from tests.security.support import PAGERDUTY_SECRET, pagerduty_signature, pagerduty_triggered


def send(http: httpx.Client, url: str, incident_id: str) -> httpx.Response:
    body = pagerduty_triggered(incident_id=incident_id, title=f"{incident_id} errors")
    return http.post(f"{url}/webhooks/pagerduty", content=body,
                     headers={"X-PagerDuty-Signature": pagerduty_signature(body), "X-Webhook-Id": incident_id})


def test_a_backlog_past_its_bound_is_answered_503_and_shown(bot_factory, http: httpx.Client, db: Database) -> None:
    bot = bot_factory(pagerduty_webhook_secrets=PAGERDUTY_SECRET, inbox_max_backlog=2, outbox_poll_interval=0.05)
    db.hold_the_inbox()
    answers = [send(http, bot.url, f"PQ{n}").json() for n in range(2)]
    assert [a["status"] for a in answers] == ["accepted"] * 2
    assert answers[1]["delivery"] == answers[0]["delivery"] + 1  # each stored delivery's number
    ready = wait_for(lambda: (body := http.get(f"{bot.url}/readyz").json())["inbox"]["backlog"] == 2 and body,
                     what="the backlog measured")
    assert ready["status"] == "ready" and ready["inbox"]["max_backlog"] == 2
    assert ready["inbox"]["oldest_age_seconds"] >= 0

    refused = send(http, bot.url, "PQ2")
    assert refused.status_code == 503 and int(refused.headers["Retry-After"]) > 0, refused.text
    metrics = http.get(f"{bot.url}/metrics").text
    assert "incident_bot_inbox_backlog 2.0" in metrics
    assert "incident_bot_inbox_oldest_age_seconds" in metrics
    assert db.deliveries() == 2  # the refused one left nothing behind: its sender keeps it

    db.release_the_inbox()
    assert db.outcomes() == ["opened", "attached"]  # one PagerDuty service: one incident
    wait_for(lambda: http.get(f"{bot.url}/readyz").json()["inbox"]["backlog"] == 0, what="the backlog applied")
    retried = send(http, bot.url, "PQ2")  # the sender's retry, once there is room
    assert retried.json()["status"] == "accepted"
    assert db.outcomes() == ["opened", "attached", "attached"]
    assert 'incident_bot_inbox_applied_total{outcome="attached",source="pagerduty"} 2.0' in \
        http.get(f"{bot.url}/metrics").text


def test_a_delivery_acknowledged_while_nothing_applies_is_applied_later(bot_factory, http: httpx.Client,
                                                                        db: Database) -> None:
    bot = bot_factory(pagerduty_webhook_secrets=PAGERDUTY_SECRET, outbox_poll_interval=0.05)
    db.hold_the_inbox()
    answer = send(http, bot.url, "PLATE1")
    assert answer.json()["status"] == "accepted"
    with db.engine.connect() as conn:
        stored = json.loads(conn.exec_driver_sql("SELECT body FROM webhook_deliveries").scalar_one())
    assert stored["event"]["data"]["id"] == "PLATE1"  # durable before the 2xx, untouched
    assert db.pending_outbox() == 1  # the delivery still to apply: the bot has not caught up

    db.release_the_inbox()
    incident = db.wait_incident_ready(1)
    assert incident.pagerduty_incident_id == "PLATE1"
