"""No secret the bot runs with reaches its logs, at DEBUG, through a realistic flow: a declared
incident, PagerDuty and SNS deliveries, a refused forgery and an error, neither as plain records
nor as the JSON lines a deployed bot writes; nor Settings' repr."""

from __future__ import annotations

import json
import logging

from observability.logs import CorrelationFilter, JsonFormatter
from tests.handlers.webhooks.sns_fixtures import signed_sns_message
from tests.scenarios.harness import BOT_TOKEN, SIGNING_SECRET, bot_settings, sign
from tests.security.support import (
    EVENTBRIDGE_TOKEN,
    PAGERDUTY_SECRET,
    pagerduty_signature,
    pagerduty_triggered,
)

AWS_SECRET = "aws-secret-key-do-not-log-5d1e"
DB_PASSWORD = "db-password-do-not-log-0b7c"


def test_settings_repr_and_str_hide_every_secret(slack) -> None:
    settings = bot_settings(slack=slack, database_url=f"postgresql://bot:{DB_PASSWORD}@127.0.0.1:1/bot",
                            pagerduty_webhook_secrets=PAGERDUTY_SECRET, eventbridge_token=EVENTBRIDGE_TOKEN,
                            pagerduty_api_token="pd-api-token-do-not-log")
    shown = repr(settings) + str(settings)
    for secret in (SIGNING_SECRET, BOT_TOKEN, PAGERDUTY_SECRET, EVENTBRIDGE_TOKEN, DB_PASSWORD,
                   "pd-api-token-do-not-log"):
        assert secret not in shown


def test_a_realistic_flow_logs_no_secret_at_debug(bot, alice, http, db, caplog, monkeypatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
    caplog.set_level(logging.DEBUG)  # the root logger: every library's DEBUG output too
    caplog.handler.addFilter(CorrelationFilter())  # as configure_logging's handler: ids stamped when logged
    assert alice.command("declare P1 secrets flow").status_code == 200
    db.wait_incident_ready(1)
    body = pagerduty_triggered()
    assert http.post(f"{bot.url}/webhooks/pagerduty", content=body,
                     headers={"X-PagerDuty-Signature": pagerduty_signature(body), "X-Webhook-Id": "wh-log"}
                     ).status_code == 200
    assert http.post(f"{bot.url}/webhooks/cloudwatch", content=json.dumps(signed_sns_message()).encode()
                     ).status_code == 200
    forged = b"command=/incident&text=declare"
    assert http.post(f"{bot.url}/slack/events", content=forged, headers=sign(forged, secret="guess")
                     ).status_code == 401
    assert http.post(f"{bot.url}/webhooks/eventbridge", content=b"{}",
                     headers={"X-Incident-Bot-Token": "wrong"}).status_code == 401
    assert alice.command("resolve 999").status_code == 200  # an error answered to the person
    db.wait_outbox_drained()
    logged = "\n".join(f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records)
    assert "refused" in logged  # the capture works: the security log is in it
    # And as a deployed bot writes them (LOG_FORMAT=json): tracebacks formatted, ids stamped.
    as_json = "\n".join(JsonFormatter().format(record) for record in caplog.records)
    assert '"correlation_id": "pagerduty:' in as_json  # the delivery's lines carry its id
    for secret in (SIGNING_SECRET, BOT_TOKEN, PAGERDUTY_SECRET, EVENTBRIDGE_TOKEN, AWS_SECRET):
        assert secret not in logged, secret
        assert secret not in as_json, secret
