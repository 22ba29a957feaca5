"""The deployed bot's JSON logs: one correlation id follows a PagerDuty delivery from its
request through the outbox into the Slack calls it led to, and no secret is in any line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from tests.scenarios.actions_support import wait_for
from tests.scenarios.harness import BOT_TOKEN, SIGNING_SECRET, Database
from tests.scenarios.processes import BotProcess
from tests.security.support import PAGERDUTY_SECRET, pagerduty_signature, pagerduty_triggered

REQUIRED_KEYS = {"time", "level", "logger", "message", "correlation_id"}


def json_lines(path: Path) -> list[dict[str, Any]]:
    text = path.read_text()
    for secret in (BOT_TOKEN, SIGNING_SECRET, PAGERDUTY_SECRET):
        assert secret not in text, "a secret reached the logs"
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]  # each line is one object
    for line in lines:
        assert set(line) >= REQUIRED_KEYS, line
    return lines


def test_a_deliverys_id_follows_it_into_its_slack_calls(slack, tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path}/bot.db"
    log_path = tmp_path / "bot.log"
    bot = BotProcess(slack_url=slack.base_url, database_url=database_url, config_path=None, log_path=log_path,
                     LOG_LEVEL="INFO", LOG_FORMAT="json", PAGERDUTY_WEBHOOK_SECRETS=PAGERDUTY_SECRET).start()
    db = Database(database_url)
    try:
        body = pagerduty_triggered(incident_id="PLOG001", title="checkout 5xx")
        event_id = json.loads(body)["event"]["id"]
        answer = httpx.post(f"{bot.url}/webhooks/pagerduty", content=body, timeout=10,
                            headers={"X-PagerDuty-Signature": pagerduty_signature(body), "X-Webhook-Id": "wh-log-1"})
        assert answer.status_code == 200, answer.text
        db.wait_incident_ready(1)
        db.wait_outbox_drained()
        wanted = f"pagerduty:{event_id}"
        # The outbox row kept the delivery's id, so its Slack calls log under it.
        wait_for(lambda: any(line["correlation_id"] == wanted and line["message"].startswith("slack chat.postMessage")
                             for line in json_lines(log_path)), what="the delivery's Slack posts in the log")
    finally:
        bot.stop()
        db.dispose()

    lines = json_lines(log_path)
    mine = [line for line in lines if line["correlation_id"] == wanted]
    messages = [line["message"] for line in mine]
    assert any(m.startswith("POST /webhooks/pagerduty 200 in ") for m in messages)  # the request's own line
    slack_calls = [m for m in messages if m.startswith("slack ")]
    assert any(m.startswith("slack conversations.create: ok") for m in slack_calls), slack_calls
    assert any(m.startswith("slack chat.postMessage: ok") for m in slack_calls), slack_calls
    # Every Slack call the channel set-up made is the delivery's: none went out under another id.
    set_up = [line for line in lines if line["message"].startswith("slack conversations.create")]
    assert {line["correlation_id"] for line in set_up} == {wanted}
    # The request was answered with an id, and other work (start-up) logs under none.
    assert any(line["correlation_id"] == "-" and line["logger"] == "uvicorn.error" for line in lines)
